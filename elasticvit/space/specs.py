"""Block specs: one static block per distinct configuration, with its analytic MACs and params.

An arch runs as a sequence of blocks (``arch_blocks``): the first conv, one block per stem layer,
one per MBConv layer, and for each transformer stage its opening downsample MBConv followed by one
block per attention+MLP layer, then the head. Every block takes and returns an NCHW tensor, so each
can be built and timed on its own (``elasticvit.nn.static.build_block``) and an arch's latency is
the sum of its blocks' plus per-call overheads.

``BlockSpec.key`` is ``kind`` then the kind's fields as ``<letter(s)><value>``, joined by ``-``:

    first_conv-hw224-c3-o16-k3-s2              input 224x224, 3 -> 16 channels, kernel 3, stride 2
    stem-hw112-c16-k5                          16 channels, depthwise kernel 5 (residual)
    mbconv-hw112-c16-o24-k3-e4-s2[-se]         16 -> 24, kernel 3, hidden 4*16, stride 2, SE
    downsample-hw28-c48-o64-k3-e6-s2-se        same fields as mbconv
    transformer-hw8-c96-mlp3-v2-heads6         8x8 tokens, 96 channels, MLP 3*96, V 2*16 per head
    head-hw7-c320-e6-w1984-n1000               320 -> 6*320 (1x1 conv), pool, 1984, 1000 classes

MACs count the multiply-adds of convolutions, linear layers and the two attention matmuls, which is
what ``torch.utils.flop_counter`` counts (it reports 2 FLOPs per MAC); normalisation, activations,
softmax, pooling and residual additions are not counted by either.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from elasticvit.space.arch import Arch, MBConvLayer, TransformerLayer
from elasticvit.space.space import SearchSpace, StageSpace

BlockKind = Literal["first_conv", "stem", "mbconv", "transformer", "downsample", "head"]

SE_REDUCTION = 4  # squeeze-excite hidden width = MBConv hidden width // 4, as in MobileNetV3
V_CONV_KERNEL = 3  # depthwise conv applied to V inside attention (LeViT/ElasticViT style)


class BlockSpec(BaseModel):
    """One block's full static configuration; fields a kind does not use stay 0 / False."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: BlockKind
    hw: int = Field(ge=1, description="input height = width")
    c_in: int = Field(ge=1)
    c_out: int = Field(ge=1, description="output channels (head: number of classes)")
    stride: int = Field(default=1, ge=1)
    kernel: int = Field(default=0, ge=0)
    expansion: int = Field(default=0, ge=0, description="MBConv: hidden = c_in * expansion; head: conv width factor")
    se: bool = False
    mlp_ratio: int = Field(default=0, ge=0)
    v_scale: int = Field(default=0, ge=0, description="V width per head = v_scale * head_dim")
    heads: int = Field(default=0, ge=0)
    width: int = Field(default=0, ge=0, description="head: the pre-classifier linear layer's width")

    @property
    def key(self) -> str:
        return "-".join([self.kind, f"hw{self.hw}", *_KEY_FIELDS[self.kind](self)])

    @property
    def out_hw(self) -> int:
        return 1 if self.kind == "head" else math.ceil(self.hw / self.stride)

    def input_shape(self, batch: int) -> tuple[int, int, int, int]:
        return (batch, self.c_in, self.hw, self.hw)

    @property
    def activations_m(self) -> float:
        """Input plus output elements per image, in millions: the memory traffic between blocks."""
        return (self.hw * self.hw * self.c_in + self.out_hw * self.out_hw * self.c_out) / 1e6

    @property
    def hidden(self) -> int:
        """MBConv hidden width, head conv width, or transformer MLP width."""
        if self.kind == "transformer":
            return self.c_in * self.mlp_ratio
        return self.c_in * self.expansion

    @property
    def head_dim(self) -> int:
        return self.c_in // self.heads

    @property
    def v_dim(self) -> int:
        """V channels per head."""
        return self.v_scale * self.head_dim

    @property
    def macs(self) -> int:
        return _MACS[self.kind](self)

    @property
    def params(self) -> int:
        return _PARAMS[self.kind](self)


def arch_blocks(space: SearchSpace, arch: Arch, num_classes: int) -> list[BlockSpec]:
    """The blocks ``arch`` runs, in execution order (``arch`` is assumed valid in ``space``)."""
    hw, c = arch.resolution, arch.stem_width
    specs = [_block("first_conv", hw, 3, c, stride=space.first_conv.stride, kernel=space.first_conv.kernel)]
    hw = specs[-1].out_hw
    specs += [_block("stem", hw, c, c, kernel=k) for k in arch.stem_kernels]
    for stage_space, stage in zip(space.stages, arch.stages, strict=True):
        if stage_space.kind == "transformer":
            ds = space.downsample
            specs.append(_block("downsample", hw, c, stage.width, stride=stage_space.stride,
                                kernel=ds.kernel, expansion=ds.expansion, se=ds.se))
            hw, c = specs[-1].out_hw, stage.width
            specs += [_transformer(hw, c, layer, space.head_dim) for layer in stage.layers]  # type: ignore[arg-type]
            continue
        for i, layer in enumerate(stage.layers):
            specs.append(_mbconv(stage_space, hw, c, stage.width, layer, first=i == 0))  # type: ignore[arg-type]
            hw, c = specs[-1].out_hw, stage.width
    specs.append(_block("head", hw, c, num_classes, expansion=space.head.expansion, width=space.head.width))
    return specs


def space_blocks(space: SearchSpace, num_classes: int) -> list[BlockSpec]:
    """Every distinct block some arch of ``space`` runs (each once, in a deterministic order)."""
    widths = feasible_widths(space)
    specs: dict[BlockSpec, None] = {}
    for resolution in space.resolutions:
        hw = math.ceil(resolution / space.first_conv.stride)
        for c in widths[0]:
            specs[_block("first_conv", resolution, 3, c, stride=space.first_conv.stride, kernel=space.first_conv.kernel)] = None
            specs.update(dict.fromkeys(_block("stem", hw, c, c, kernel=k) for k in space.stem.kernels))
        for i, stage in enumerate(space.stages):
            for spec in _stage_blocks(space, stage, hw, widths[i], widths[i + 1]):
                specs[spec] = None
            hw = math.ceil(hw / stage.stride)
        for c in widths[-1]:
            specs[_block("head", hw, c, num_classes, expansion=space.head.expansion, width=space.head.width)] = None
    return list(specs)


def feasible_widths(space: SearchSpace) -> list[tuple[int, ...]]:
    """Per stage (0 = first conv), the widths some valid arch uses, given non-decreasing widths."""
    choices = [space.first_conv.widths, *(s.widths for s in space.stages)]
    forward = [choices[0]]
    for widths in choices[1:]:
        forward.append(tuple(w for w in widths if w >= min(forward[-1])))
    feasible = [forward[-1]]
    for widths in reversed(forward[:-1]):
        feasible.insert(0, tuple(w for w in widths if w <= max(feasible[0])))
    return feasible


def stage_grids(space: SearchSpace) -> list[tuple[int, ...]]:
    """Per stage, the output heights (= widths) its layers run at, over the space's resolutions."""
    grids: list[set[int]] = [set() for _ in space.stages]
    for resolution in space.resolutions:
        hw = math.ceil(resolution / space.first_conv.stride)
        for i, stage in enumerate(space.stages):
            hw = math.ceil(hw / stage.stride)
            grids[i].add(hw)
    return [tuple(sorted(g)) for g in grids]


def _stage_blocks(
    space: SearchSpace, stage: StageSpace, hw: int, widths_in: tuple[int, ...], widths: tuple[int, ...]
) -> list[BlockSpec]:
    pairs = [(p, w) for p in widths_in for w in widths if w >= p]
    out_hw = math.ceil(hw / stage.stride)
    if stage.kind == "transformer":
        ds = space.downsample
        specs = [_block("downsample", hw, p, w, stride=stage.stride, kernel=ds.kernel, expansion=ds.expansion, se=ds.se)
                 for p, w in pairs]
        layers = [TransformerLayer(mlp_ratio=m, v_scale=v) for m in stage.mlp_ratios for v in stage.v_scales]
        return specs + [_transformer(out_hw, w, layer, space.head_dim) for w in widths for layer in layers]
    layers = [MBConvLayer(kernel=k, expansion=e) for k in stage.kernels for e in stage.expansions]
    specs = [_mbconv(stage, hw, p, w, layer, first=True) for p, w in pairs for layer in layers]
    if max(stage.depths) > 1:
        specs += [_mbconv(stage, out_hw, w, w, layer, first=False) for w in widths for layer in layers]
    return specs


def _block(kind: BlockKind, hw: int, c_in: int, c_out: int, **fields: int | bool) -> BlockSpec:
    return BlockSpec(kind=kind, hw=hw, c_in=c_in, c_out=c_out, **fields)


def _mbconv(stage: StageSpace, hw: int, c_in: int, c_out: int, layer: MBConvLayer, first: bool) -> BlockSpec:
    return _block("mbconv", hw, c_in, c_out, stride=stage.stride if first else 1,
                  kernel=layer.kernel, expansion=layer.expansion, se=stage.se)


def _transformer(hw: int, c: int, layer: TransformerLayer, head_dim: int) -> BlockSpec:
    return _block("transformer", hw, c, c, mlp_ratio=layer.mlp_ratio, v_scale=layer.v_scale, heads=c // head_dim)


# --- keys ---------------------------------------------------------------------------------------


def _mbconv_key(s: BlockSpec) -> list[str]:
    return [f"c{s.c_in}", f"o{s.c_out}", f"k{s.kernel}", f"e{s.expansion}", f"s{s.stride}", *(["se"] if s.se else [])]


_KEY_FIELDS = {
    "first_conv": lambda s: [f"c{s.c_in}", f"o{s.c_out}", f"k{s.kernel}", f"s{s.stride}"],
    "stem": lambda s: [f"c{s.c_in}", f"k{s.kernel}"],
    "mbconv": _mbconv_key,
    "downsample": _mbconv_key,
    "transformer": lambda s: [f"c{s.c_in}", f"mlp{s.mlp_ratio}", f"v{s.v_scale}", f"heads{s.heads}"],
    "head": lambda s: [f"c{s.c_in}", f"e{s.expansion}", f"w{s.width}", f"n{s.c_out}"],
}

# --- MACs ---------------------------------------------------------------------------------------


def _first_conv_macs(s: BlockSpec) -> int:
    return s.out_hw**2 * s.c_out * s.c_in * s.kernel**2


def _stem_macs(s: BlockSpec) -> int:
    return s.hw**2 * (s.c_in * s.kernel**2 + s.c_in * s.c_out)


def _mbconv_macs(s: BlockSpec) -> int:
    hidden, out = s.hidden, s.out_hw**2
    se = 2 * hidden * (hidden // SE_REDUCTION) if s.se else 0
    return s.hw**2 * s.c_in * hidden + out * hidden * s.kernel**2 + se + out * hidden * s.c_out


def _transformer_macs(s: BlockSpec) -> int:
    n, c, v = s.hw**2, s.c_in, s.heads * s.v_dim
    qkv = n * c * (2 * c + v)
    v_conv = n * v * V_CONV_KERNEL**2
    attention = n * n * (c + v)  # q @ k^T (heads * head_dim = c) and attn @ v
    proj = n * v * c
    mlp = 2 * n * c * s.hidden
    return qkv + v_conv + attention + proj + mlp


def _head_macs(s: BlockSpec) -> int:
    return s.hw**2 * s.c_in * s.hidden + s.hidden * s.width + s.width * s.c_out


_MACS = {
    "first_conv": _first_conv_macs,
    "stem": _stem_macs,
    "mbconv": _mbconv_macs,
    "downsample": _mbconv_macs,
    "transformer": _transformer_macs,
    "head": _head_macs,
}

# --- parameters (weights, biases, norm affines, the relative-position table; not BN buffers) ------


def _first_conv_params(s: BlockSpec) -> int:
    return s.c_out * s.c_in * s.kernel**2 + 2 * s.c_out


def _stem_params(s: BlockSpec) -> int:
    return s.c_in * s.kernel**2 + 2 * s.c_in + s.c_in * s.c_out + 2 * s.c_out


def _mbconv_params(s: BlockSpec) -> int:
    hidden, reduced = s.hidden, s.hidden // SE_REDUCTION
    se = (hidden * reduced + reduced + reduced * hidden + hidden) if s.se else 0
    return s.c_in * hidden + 2 * hidden + hidden * s.kernel**2 + 2 * hidden + se + hidden * s.c_out + 2 * s.c_out


def _transformer_params(s: BlockSpec) -> int:
    c, v, m = s.c_in, s.heads * s.v_dim, s.hidden
    attention = (c + 1) * (2 * c + v) + v * V_CONV_KERNEL**2 + (v + 1) * c + (2 * s.hw - 1) ** 2 * s.heads
    mlp = (c + 1) * m + (m + 1) * c
    return 2 * c + attention + 2 * c + mlp


def _head_params(s: BlockSpec) -> int:
    return s.c_in * s.hidden + 2 * s.hidden + (s.hidden + 1) * s.width + (s.width + 1) * s.c_out


_PARAMS = {
    "first_conv": _first_conv_params,
    "stem": _stem_params,
    "mbconv": _mbconv_params,
    "downsample": _mbconv_params,
    "transformer": _transformer_params,
    "head": _head_params,
}
