"""Analytic multiply-adds and parameters of an arch: sums over its blocks, no model is built."""

from __future__ import annotations

from elasticvit.space.arch import Arch
from elasticvit.space.space import SearchSpace
from elasticvit.space.specs import arch_blocks, feasible_widths


def arch_macs(space: SearchSpace, arch: Arch, num_classes: int) -> int:
    """Multiply-adds of one forward pass of one image (see ``specs`` for what is counted)."""
    return sum(spec.macs for spec in arch_blocks(space, arch, num_classes))


def arch_params(space: SearchSpace, arch: Arch, num_classes: int) -> int:
    """Parameters of the extracted static subnet."""
    return sum(spec.params for spec in arch_blocks(space, arch, num_classes))


def space_size(space: SearchSpace) -> int:
    """Number of distinct archs in ``space`` (exact; counts width sequences that never decrease)."""
    widths = feasible_widths(space)
    stem = sum(len(space.stem.kernels) ** d for d in space.stem.depths)
    # ways[w] = number of width assignments of the stages so far that end at width w
    ways = {w: 1 for w in widths[0]}
    for stage, allowed in zip(space.stages, widths[1:], strict=True):
        per_layer = len(stage.kernels) * len(stage.expansions) or len(stage.mlp_ratios) * len(stage.v_scales)
        layers = sum(per_layer**d for d in stage.depths)
        ways = {w: layers * sum(n for p, n in ways.items() if p <= w) for w in allowed}
    return len(space.resolutions) * stem * sum(ways.values())


def macs_range(space: SearchSpace, num_classes: int) -> tuple[int, int]:
    return arch_macs(space, space.smallest(), num_classes), arch_macs(space, space.largest(), num_classes)
