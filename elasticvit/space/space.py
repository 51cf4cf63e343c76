"""A search space as data: resolutions, first conv, stem, stages, head; loaded from YAML.

The shape follows ElasticViT (Tang et al., ICCV 2023): a stride-2 first conv, a depthwise-separable
stem at the same width, MBConv stages (optionally with squeeze-excite), then transformer stages.
Each transformer stage opens with a fixed MBConv ("downsample" block: it changes the width and
applies the stage stride) followed by its attention+MLP layers; the number of heads is the width
divided by ``head_dim``. Widths never decrease from one stage to the next (the first conv's width
counts as stage 0). The head is MobileNetV3's: 1x1 conv to ``expansion`` times the width, pooling,
a ``width``-wide linear layer, the classifier.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from elasticvit.errors import ElasticViTError, describe_invalid
from elasticvit.space import operators
from elasticvit.space.arch import Arch, MBConvLayer, StageArch, TransformerLayer
from elasticvit.utils.hashing import stable_hash
from elasticvit.utils.shipped import CONFIGS


class SpaceError(ElasticViTError):
    """A search space file is missing, not YAML, or not a valid space; the message names it."""


SPACE_DIR = CONFIGS / "spaces"


def _as_choices(value: Any) -> Any:
    """Accept ``[a, b, c]``, a single int, or ``{min, max, step}`` (both ends included)."""
    if isinstance(value, dict):
        missing = [k for k in ("min", "max") if k not in value]
        if missing or set(value) - {"min", "max", "step"}:
            raise ValueError(f"a range needs min and max (and optionally step), got {value}")
        return tuple(range(value["min"], value["max"] + 1, value.get("step", 1)))
    if isinstance(value, int):
        return (value,)
    return value


def _sorted_unique(value: tuple[int, ...]) -> tuple[int, ...]:
    if list(value) != sorted(set(value)):
        raise ValueError(f"choices must be strictly increasing, got {list(value)}")
    return value


Choices = Annotated[
    tuple[Annotated[int, Field(ge=1)], ...],
    BeforeValidator(_as_choices),
    Field(min_length=1),
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FirstConvSpace(_Frozen):
    widths: Choices
    kernel: int = Field(default=3, ge=1)
    stride: Literal[1, 2] = 2


class StemSpace(_Frozen):
    """Residual depthwise-separable layers at the first conv's width."""

    depths: Choices
    kernels: Choices


class StageSpace(_Frozen):
    kind: Literal["mbconv", "transformer"]
    widths: Choices
    depths: Choices
    stride: Literal[1, 2]
    se: bool = Field(default=False, description="squeeze-excite in MBConv layers")
    kernels: tuple[int, ...] = Field(default=(), description="MBConv only")
    expansions: tuple[int, ...] = Field(default=(), description="MBConv only")
    mlp_ratios: tuple[int, ...] = Field(default=(), description="transformer only")
    v_scales: tuple[int, ...] = Field(default=(), description="transformer only")

    @model_validator(mode="after")
    def _kind_fields(self) -> StageSpace:
        own, other = (("kernels", "expansions"), ("mlp_ratios", "v_scales"))[:: 1 if self.kind == "mbconv" else -1]
        for name in own:
            if not getattr(self, name):
                raise ValueError(f"a {self.kind} stage needs '{name}'")
        for name in other:
            if getattr(self, name):
                raise ValueError(f"a {self.kind} stage takes no '{name}'")
        if self.se and self.kind == "transformer":
            raise ValueError("'se' applies to MBConv stages only")
        for name in ("widths", "depths", *own):
            _sorted_unique(getattr(self, name))
        return self


class DownsampleSpace(_Frozen):
    """The fixed MBConv that opens every transformer stage."""

    kernel: int = Field(default=3, ge=1)
    expansion: int = Field(default=6, ge=1)
    se: bool = True


class HeadSpace(_Frozen):
    expansion: int = Field(default=6, ge=1)
    width: int = Field(default=1984, ge=1)
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)


class SearchSpace(_Frozen):
    name: str
    resolutions: Choices
    first_conv: FirstConvSpace
    stem: StemSpace
    stages: tuple[StageSpace, ...] = Field(min_length=1)
    downsample: DownsampleSpace = DownsampleSpace()
    head: HeadSpace = HeadSpace()
    head_dim: int = Field(default=16, ge=1, description="channels per attention head (heads = width / head_dim)")

    @model_validator(mode="after")
    def _consistent(self) -> SearchSpace:
        for name, choices in (("resolutions", self.resolutions), ("first_conv.widths", self.first_conv.widths),
                              ("stem.depths", self.stem.depths), ("stem.kernels", self.stem.kernels)):
            try:
                _sorted_unique(choices)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from exc
        previous = self.first_conv.widths
        for i, stage in enumerate(self.stages):
            label = stage_label(i, stage)
            if stage.kind == "transformer" and any(w % self.head_dim for w in stage.widths):
                raise ValueError(f"{label}: widths must be multiples of head_dim={self.head_dim}")
            if max(stage.widths) < min(previous):
                raise ValueError(f"{label}: no width is >= the previous stage's narrowest ({min(previous)})")
            previous = stage.widths
        seen_transformer = False
        for i, stage in enumerate(self.stages):
            if stage.kind == "mbconv" and seen_transformer:
                raise ValueError(f"{stage_label(i, stage)}: MBConv stages must come before transformer stages")
            seen_transformer |= stage.kind == "transformer"
        return self

    @property
    def hash(self) -> str:
        """Short hex digest of the canonical JSON: tables, pools and checkpoints are keyed by it."""
        return stable_hash(self.model_dump(mode="json"), length=12)

    def sample(self, rng: np.random.Generator) -> Arch:
        """Each choice uniform; a stage's width uniform among those not narrower than the previous."""
        return operators.sample(self, rng)

    def smallest(self) -> Arch:
        return operators.extreme(self, largest=False)

    def largest(self) -> Arch:
        return operators.extreme(self, largest=True)

    def mutate(self, arch: Arch, rng: np.random.Generator, prob: float) -> Arch:
        """Re-draw each choice with probability ``prob``; widths are repaired to stay non-decreasing."""
        return operators.mutate(self, arch, rng, prob)

    def crossover(self, a: Arch, b: Arch, rng: np.random.Generator) -> Arch:
        """Each gene (resolution, stem width, stem layers, each stage's width and layers) from a or b."""
        return operators.crossover(self, a, b, rng)

    def validate_arch(self, arch: Arch) -> Arch:
        """Return ``arch`` if it belongs to this space; else raise ``ValueError`` naming stage and choice."""
        _check(arch.resolution in self.resolutions, f"resolution {arch.resolution} is not one of {self.resolutions}")
        _check(arch.stem_width in self.first_conv.widths,
               f"first conv: width {arch.stem_width} is not one of {self.first_conv.widths}")
        _check(len(arch.stem_kernels) in self.stem.depths,
               f"stem: depth {len(arch.stem_kernels)} is not one of {self.stem.depths}")
        for j, k in enumerate(arch.stem_kernels):
            _check(k in self.stem.kernels, f"stem: kernel {k} of layer {j + 1} is not one of {self.stem.kernels}")
        _check(len(arch.stages) == len(self.stages),
               f"the arch has {len(arch.stages)} stages, the space {len(self.stages)}")
        previous = arch.stem_width
        for i, (space, stage) in enumerate(zip(self.stages, arch.stages, strict=True)):
            _check_stage(stage_label(i, space), space, stage, previous)
            previous = stage.width
        return arch

    def contains(self, arch: Arch) -> bool:
        try:
            self.validate_arch(arch)
        except ValueError:
            return False
        return True


def stage_label(index: int, stage: StageSpace) -> str:
    """How messages name a stage: ``stage S3 (transformer)``; S1 is the first stage after the stem."""
    return f"stage S{index + 1} ({stage.kind})"


def load_space(name_or_path: str | os.PathLike[str]) -> SearchSpace:
    """A YAML path, or a bare name looked up in the repository's ``elasticvit/configs/spaces/``."""
    path = Path(name_or_path)
    if not path.exists():
        candidate = SPACE_DIR / f"{name_or_path}.yaml"
        if not candidate.exists():
            known = sorted(p.stem for p in SPACE_DIR.glob("*.yaml"))
            raise SpaceError(f"search space not found: '{name_or_path}' (known: {known})")
        path = candidate
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpaceError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    try:
        return SearchSpace.model_validate(raw)
    except ValidationError as exc:
        raise SpaceError(describe_invalid(exc, f"search space in {path}")) from exc


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _check_stage(label: str, space: StageSpace, stage: StageArch, previous: int) -> None:
    _check(stage.width in space.widths, f"{label}: width {stage.width} is not one of {space.widths}")
    _check(stage.width >= previous,
           f"{label}: width {stage.width} is narrower than the previous stage's {previous} (widths must not decrease)")
    _check(stage.depth in space.depths, f"{label}: depth {stage.depth} is not one of {space.depths}")
    layer_type = MBConvLayer if space.kind == "mbconv" else TransformerLayer
    _check(isinstance(stage.layers[0], layer_type), f"{label}: layers must be {layer_type.__name__}")
    fields = {"kernel": space.kernels, "expansion": space.expansions,
              "mlp_ratio": space.mlp_ratios, "v_scale": space.v_scales}
    for j, layer in enumerate(stage.layers):
        for name in type(layer).model_fields:
            value = getattr(layer, name)
            _check(value in fields[name], f"{label}: {name} {value} of layer {j + 1} is not one of {fields[name]}")
