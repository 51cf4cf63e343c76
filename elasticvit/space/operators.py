"""Drawing, mutating and recombining archs of a space; every result is a valid arch of the space.

The one coupling between choices is that widths never decrease from stage to stage, so a stage's
width is drawn among the widths not narrower than the previous stage's, and after mutation or
crossover a width that became too narrow is raised to the narrowest allowed one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from elasticvit.space.arch import Arch, MBConvLayer, StageArch, TransformerLayer

if TYPE_CHECKING:
    from elasticvit.space.space import SearchSpace, StageSpace

Layer = MBConvLayer | TransformerLayer


def sample(space: SearchSpace, rng: np.random.Generator) -> Arch:
    # One draw of uniforms per arch (the most any arch of the space can need): pools draw
    # thousands of archs, and per-choice generator calls would dominate their cost.
    draws = iter(rng.random(_max_draws(space)).tolist())

    def pick(choices: Sequence[int]) -> int:
        return choices[int(next(draws) * len(choices))]

    resolution, stem_width = pick(space.resolutions), pick(space.first_conv.widths)
    stem_kernels = tuple(pick(space.stem.kernels) for _ in range(pick(space.stem.depths)))
    stages: list[StageArch] = []
    previous = stem_width
    for stage in space.stages:
        width = pick(allowed_widths(stage, previous))
        if stage.kind == "mbconv":
            layers = tuple(MBConvLayer(kernel=pick(stage.kernels), expansion=pick(stage.expansions))
                           for _ in range(pick(stage.depths)))
        else:
            layers = tuple(TransformerLayer(mlp_ratio=pick(stage.mlp_ratios), v_scale=pick(stage.v_scales))
                           for _ in range(pick(stage.depths)))
        stages.append(StageArch(width=width, layers=layers))
        previous = width
    return Arch(resolution=resolution, stem_width=stem_width, stem_kernels=stem_kernels, stages=tuple(stages))


def extreme(space: SearchSpace, largest: bool) -> Arch:
    """Every choice at its maximum (or minimum): the largest (smallest) subnet of the space."""
    end = max if largest else min
    stem_width = end(space.first_conv.widths)
    stages: list[StageArch] = []
    previous = stem_width
    for stage in space.stages:
        width = end(allowed_widths(stage, previous))
        if stage.kind == "mbconv":
            layer: Layer = MBConvLayer(kernel=end(stage.kernels), expansion=end(stage.expansions))
        else:
            layer = TransformerLayer(mlp_ratio=end(stage.mlp_ratios), v_scale=end(stage.v_scales))
        stages.append(StageArch(width=width, layers=(layer,) * end(stage.depths)))  # type: ignore[arg-type]
        previous = width
    return Arch(
        resolution=end(space.resolutions),
        stem_width=stem_width,
        stem_kernels=(end(space.stem.kernels),) * end(space.stem.depths),
        stages=tuple(stages),
    )


def mutate(space: SearchSpace, arch: Arch, rng: np.random.Generator, prob: float) -> Arch:
    def maybe(value: int, choices: Sequence[int]) -> int:
        return _pick(choices, rng) if rng.random() < prob else value

    stem_width = maybe(arch.stem_width, space.first_conv.widths)
    stem_kernels = _resize(arch.stem_kernels, maybe(len(arch.stem_kernels), space.stem.depths),
                           lambda: _pick(space.stem.kernels, rng))
    stem_kernels = tuple(maybe(k, space.stem.kernels) for k in stem_kernels)
    stages: list[StageArch] = []
    previous = stem_width
    for stage_space, stage in zip(space.stages, arch.stages, strict=True):
        allowed = allowed_widths(stage_space, previous)
        width = _pick(allowed, rng) if rng.random() < prob else _repair(stage.width, allowed)
        layers = _resize(stage.layers, maybe(stage.depth, stage_space.depths), lambda s=stage_space: _layer(s, rng))
        layers = tuple(_mutate_layer(stage_space, layer, rng, prob) for layer in layers)
        stages.append(StageArch(width=width, layers=layers))  # type: ignore[arg-type]
        previous = width
    return Arch(resolution=maybe(arch.resolution, space.resolutions), stem_width=stem_width,
                stem_kernels=stem_kernels, stages=tuple(stages))


def crossover(space: SearchSpace, a: Arch, b: Arch, rng: np.random.Generator) -> Arch:
    def either(x, y):  # noqa: ANN001, ANN202 - any gene type
        return x if rng.random() < 0.5 else y

    stem_width = either(a.stem_width, b.stem_width)
    stages: list[StageArch] = []
    previous = stem_width
    for stage_space, sa, sb in zip(space.stages, a.stages, b.stages, strict=True):
        width = _repair(either(sa.width, sb.width), allowed_widths(stage_space, previous))
        stages.append(StageArch(width=width, layers=either(sa.layers, sb.layers)))
        previous = width
    return Arch(resolution=either(a.resolution, b.resolution), stem_width=stem_width,
                stem_kernels=either(a.stem_kernels, b.stem_kernels), stages=tuple(stages))


def _max_draws(space: SearchSpace) -> int:
    """Uniforms ``sample`` may consume: resolution, stem width, stem depth and kernels, and per stage
    its width, depth and two choices per layer."""
    return 3 + max(space.stem.depths) + sum(2 + 2 * max(s.depths) for s in space.stages)


def allowed_widths(stage: StageSpace, previous: int) -> tuple[int, ...]:
    """The stage's widths that are not narrower than the previous stage's width."""
    return tuple(w for w in stage.widths if w >= previous)


def _pick(choices: Sequence[int], rng: np.random.Generator) -> int:
    return int(choices[int(rng.integers(len(choices)))])


def _layer(stage: StageSpace, rng: np.random.Generator) -> Layer:
    if stage.kind == "mbconv":
        return MBConvLayer(kernel=_pick(stage.kernels, rng), expansion=_pick(stage.expansions, rng))
    return TransformerLayer(mlp_ratio=_pick(stage.mlp_ratios, rng), v_scale=_pick(stage.v_scales, rng))


def _mutate_layer(stage: StageSpace, layer: Layer, rng: np.random.Generator, prob: float) -> Layer:
    fresh = _layer(stage, rng)
    keep = {name: getattr(layer, name) for name in type(layer).model_fields if rng.random() >= prob}
    return fresh.model_copy(update=keep)


def _resize(items: tuple, depth: int, new) -> tuple:  # noqa: ANN001 - kernels or layers
    """The first ``depth`` items, extended with fresh ones when the stage got deeper."""
    return tuple(items[:depth]) + tuple(new() for _ in range(depth - len(items)))


def _repair(width: int, allowed: tuple[int, ...]) -> int:
    """``width`` if allowed, else the narrowest allowed width (the closest, since it was too narrow)."""
    return width if width in allowed else allowed[0]
