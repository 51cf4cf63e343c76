"""One point of a search space: an immutable, hashable, JSON-serialisable architecture.

Choices are per layer (as in once-for-all): every MBConv layer has its own kernel and expansion
ratio, every transformer layer its own MLP ratio and V-scale; a stage's depth is its number of
layers. An ``Arch`` only checks its own shape; whether it belongs to a space is
``SearchSpace.validate_arch``'s job.

``Arch.id`` is a compact string that encodes every field, so ``Arch.parse(arch.id) == arch``::

    r160-s16:k3,k5-c24:k3e4,k5e6-c32:k5e3-t64:m2v4,m3v2-...
    |     |         |               \\ transformer stage: width 64, layers (mlp 2, v 4), (mlp 3, v 2)
    |     |         \\ MBConv stage: width 24, layers (kernel 3, expansion 4), (kernel 5, expansion 6)
    |     \\ first conv / stem width 16, one stem layer per kernel
    \\ input resolution
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MBConvLayer(_Frozen):
    kernel: int = Field(ge=1)
    expansion: int = Field(ge=1)


class TransformerLayer(_Frozen):
    mlp_ratio: int = Field(ge=1)
    v_scale: int = Field(ge=1)


class StageArch(_Frozen):
    width: int = Field(ge=1)
    layers: tuple[MBConvLayer, ...] | tuple[TransformerLayer, ...]

    @model_validator(mode="after")
    def _non_empty(self) -> StageArch:
        if not self.layers:
            raise ValueError("a stage needs at least one layer")
        return self

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def is_transformer(self) -> bool:
        return isinstance(self.layers[0], TransformerLayer)


class Arch(_Frozen):
    resolution: int = Field(ge=1)
    stem_width: int = Field(ge=1, description="output width of the first conv, kept by the stem")
    stem_kernels: tuple[int, ...] = Field(min_length=1, description="one depthwise kernel per stem layer")
    stages: tuple[StageArch, ...]

    @property
    def id(self) -> str:
        parts = [f"r{self.resolution}", f"s{self.stem_width}:" + ",".join(f"k{k}" for k in self.stem_kernels)]
        parts += [_stage_id(stage) for stage in self.stages]
        return "-".join(parts)

    @classmethod
    def parse(cls, arch_id: str) -> Arch:
        """The arch whose ``id`` is ``arch_id``."""
        head, stem, *stages = arch_id.split("-")
        stem_match = _STEM.fullmatch(stem)
        if not head.startswith("r") or stem_match is None:
            raise ValueError(f"not an arch id: '{arch_id}'")
        return cls(
            resolution=int(head[1:]),
            stem_width=int(stem_match["width"]),
            stem_kernels=tuple(int(k) for k in re.findall(r"k(\d+)", stem_match["layers"])),
            stages=tuple(_parse_stage(s, arch_id) for s in stages),
        )

    def __str__(self) -> str:
        return self.id


_STEM = re.compile(r"s(?P<width>\d+):(?P<layers>k\d+(,k\d+)*)")
_STAGE = re.compile(r"(?P<kind>[ct])(?P<width>\d+):(?P<layers>.+)")
_MBCONV_LAYER = re.compile(r"k(\d+)e(\d+)")
_TRANSFORMER_LAYER = re.compile(r"m(\d+)v(\d+)")


def _stage_id(stage: StageArch) -> str:
    if stage.is_transformer:
        layers = ",".join(f"m{t.mlp_ratio}v{t.v_scale}" for t in stage.layers)  # type: ignore[union-attr]
        return f"t{stage.width}:{layers}"
    layers = ",".join(f"k{m.kernel}e{m.expansion}" for m in stage.layers)  # type: ignore[union-attr]
    return f"c{stage.width}:{layers}"


def _parse_stage(text: str, arch_id: str) -> StageArch:
    match = _STAGE.fullmatch(text)
    if match is None:
        raise ValueError(f"not an arch id: '{arch_id}' (stage '{text}')")
    pattern, layer_type = (
        (_TRANSFORMER_LAYER, TransformerLayer) if match["kind"] == "t" else (_MBCONV_LAYER, MBConvLayer)
    )
    layers = []
    for item in match["layers"].split(","):
        layer = pattern.fullmatch(item)
        if layer is None:
            raise ValueError(f"not an arch id: '{arch_id}' (layer '{item}')")
        a, b = int(layer[1]), int(layer[2])
        layers.append(TransformerLayer(mlp_ratio=a, v_scale=b) if match["kind"] == "t" else MBConvLayer(kernel=a, expansion=b))
    return StageArch(width=int(match["width"]), layers=tuple(layers))
