"""Elastic blocks: the static blocks' forwards over elastic ops sized for the largest configuration.

A block is configured with ``set_active(spec)`` (a ``BlockSpec`` the block can run) and extracts
to ``build_block(spec)`` loaded with its ops' active slices (``to_static``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from elasticvit.nn.attention import ElasticProjection, ElasticQKV, ElasticRelativePositionBias, ElasticValueConv
from elasticvit.nn.elastic import (
    ActiveConfig,
    ElasticBatchNorm2d,
    ElasticConv2d,
    ElasticDepthwiseConv2d,
    ElasticLayerNorm,
    ElasticLinear,
    ElasticOp,
)
from elasticvit.nn.static import (
    AttentionBase,
    ClassifierHeadBase,
    ConvBnActBase,
    DepthwiseSeparableBase,
    HardSwish,
    MBConvBase,
    TransformerBlockBase,
    build_block,
    drop_path_or_identity,
)
from elasticvit.space.specs import SE_REDUCTION, V_CONV_KERNEL, BlockSpec


class ElasticBlock(ActiveConfig):
    """Runs the configuration of its active ``spec``; ``to_static`` extracts it."""

    active_fields = frozenset({"spec"})
    spec: BlockSpec

    def set_active(self, spec: BlockSpec) -> None:
        self.spec = spec
        self._configure(spec)

    def _configure(self, spec: BlockSpec) -> None:
        raise NotImplementedError

    def to_static(self) -> nn.Module:
        static = build_block(self.spec)
        static.load_state_dict(static_state(self))
        return static.train(self.training)


def static_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of ``module``'s static counterpart: every elastic op's active slices."""
    return {
        f"{name}.{key}": value
        for name, op in module.named_modules()
        if isinstance(op, ElasticOp)
        for key, value in op.to_static().state_dict().items()
    }


class ElasticConvBnAct(ConvBnActBase, ElasticBlock):
    def __init__(self, c_in: int, max_out: int, kernel: int, stride: int, act_layer: type[nn.Module] = HardSwish) -> None:
        super().__init__()
        self.conv = ElasticConv2d(c_in, max_out, kernel, stride)
        self.bn = ElasticBatchNorm2d(max_out)
        self.act = act_layer()

    def _configure(self, spec: BlockSpec) -> None:
        self.conv.set_active(spec.c_in, spec.c_out)
        self.bn.set_active(spec.c_out)


class ElasticDepthwiseSeparable(DepthwiseSeparableBase, ElasticBlock):
    def __init__(
        self, max_channels: int, max_kernel: int, drop_path: float = 0.0, act_layer: type[nn.Module] = HardSwish
    ) -> None:
        super().__init__()
        self.conv_dw = ElasticDepthwiseConv2d(max_channels, max_kernel)
        self.bn1 = ElasticBatchNorm2d(max_channels)
        self.act = act_layer()
        self.conv_pw = ElasticConv2d(max_channels, max_channels)
        self.bn2 = ElasticBatchNorm2d(max_channels)
        self.drop_path = drop_path_or_identity(drop_path)

    def _configure(self, spec: BlockSpec) -> None:
        self.conv_dw.set_active(spec.c_in, spec.kernel)
        self.bn1.set_active(spec.c_in)
        self.conv_pw.set_active(spec.c_in, spec.c_out)
        self.bn2.set_active(spec.c_out)

    def zero_init_last(self) -> None:
        nn.init.zeros_(self.bn2.weight)


class ElasticSqueezeExcite(nn.Module):
    """timm's ``SEModule`` (same child names) with hidden width ``channels // SE_REDUCTION``."""

    def __init__(self, max_channels: int) -> None:
        super().__init__()
        reduced = max_channels // SE_REDUCTION
        self.fc1 = ElasticConv2d(max_channels, reduced, bias=True)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = ElasticConv2d(reduced, max_channels, bias=True)
        self.gate = nn.Hardsigmoid()

    def set_channels(self, channels: int) -> None:
        self.fc1.set_active(channels, channels // SE_REDUCTION)
        self.fc2.set_active(channels // SE_REDUCTION, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_se = self.act(self.fc1(x.mean((2, 3), keepdim=True)))
        return x * self.gate(self.fc2(x_se))


class ElasticMBConv(MBConvBase, ElasticBlock):
    active_fields = ElasticBlock.active_fields | {"has_skip"}

    def __init__(
        self, max_in: int, max_out: int, max_expansion: int, max_kernel: int, stride: int, se: bool,
        drop_path: float = 0.0, act_layer: type[nn.Module] = HardSwish,
    ) -> None:
        super().__init__()
        max_hidden = max_in * max_expansion
        self.conv_pw = ElasticConv2d(max_in, max_hidden)
        self.bn1 = ElasticBatchNorm2d(max_hidden)
        self.act1 = act_layer()
        self.conv_dw = ElasticDepthwiseConv2d(max_hidden, max_kernel, stride)
        self.bn2 = ElasticBatchNorm2d(max_hidden)
        self.act2 = act_layer()
        self.se = ElasticSqueezeExcite(max_hidden) if se else nn.Identity()
        self.conv_pwl = ElasticConv2d(max_hidden, max_out)
        self.bn3 = ElasticBatchNorm2d(max_out)
        self.stride = stride
        self.drop_path = drop_path_or_identity(drop_path)

    def _configure(self, spec: BlockSpec) -> None:
        hidden = spec.hidden
        self.conv_pw.set_active(spec.c_in, hidden)
        self.bn1.set_active(hidden)
        self.conv_dw.set_active(hidden, spec.kernel)
        self.bn2.set_active(hidden)
        if isinstance(self.se, ElasticSqueezeExcite):
            self.se.set_channels(hidden)
        self.conv_pwl.set_active(hidden, spec.c_out)
        self.bn3.set_active(spec.c_out)
        self.has_skip = self.stride == 1 and spec.c_in == spec.c_out

    def zero_init_last(self) -> None:
        nn.init.zeros_(self.bn3.weight)


class ElasticAttention(AttentionBase, ActiveConfig):
    active_fields = frozenset({"heads", "v_dim", "grid"})

    def __init__(
        self, max_dim: int, head_dim: int, max_v_dim: int, grids: tuple[int, ...], act_layer: type[nn.Module] = HardSwish,
        proj_shapes: tuple[tuple[int, int, int], ...] = (),
    ) -> None:
        super().__init__()
        max_heads = max_dim // head_dim
        self.heads, self.head_dim, self.v_dim, self.grid = max_heads, head_dim, max_v_dim, max(grids)
        self.qkv = ElasticQKV(max_dim, max_heads, head_dim, max_v_dim)
        self.v_conv = ElasticValueConv(max_heads, max_v_dim, V_CONV_KERNEL)
        self.rel_pos = ElasticRelativePositionBias(max_heads, grids)
        self.act = act_layer()
        self.proj = ElasticProjection(max_heads, max_v_dim, max_dim, switchable_shapes=proj_shapes)

    def set_active(self, dim: int, heads: int, v_dim: int, grid: int) -> None:
        self.heads, self.v_dim, self.grid = heads, v_dim, grid
        self.qkv.set_active(dim, heads, v_dim)
        self.v_conv.set_active(heads, v_dim)
        self.rel_pos.set_active(heads, grid)
        self.proj.set_active(heads, v_dim, dim)


class ElasticMlp(nn.Module):
    """timm's ``Mlp`` (same child names) over elastic linear layers."""

    def __init__(
        self, max_dim: int, max_hidden: int, act_layer: type[nn.Module] = HardSwish,
        fc2_shapes: tuple[tuple[int, int], ...] = (),
    ) -> None:
        super().__init__()
        self.fc1 = ElasticLinear(max_dim, max_hidden)
        self.act = act_layer()
        self.fc2 = ElasticLinear(max_hidden, max_dim, switchable_shapes=fc2_shapes)

    def set_active(self, dim: int, hidden: int) -> None:
        self.fc1.set_active(dim, hidden)
        self.fc2.set_active(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwitchChoices(NamedTuple):
    """A transformer stage's choices that switchable scales are kept for: each (width, V scale) its
    attention runs and each (width, MLP ratio) its MLP runs gets its own output scale."""

    widths: tuple[int, ...]
    mlp_ratios: tuple[int, ...]
    v_scales: tuple[int, ...]


class ElasticTransformerBlock(TransformerBlockBase, ElasticBlock):
    def __init__(
        self, max_dim: int, head_dim: int, max_v_scale: int, max_mlp_ratio: int, grids: tuple[int, ...],
        drop_path: float = 0.0, act_layer: type[nn.Module] = HardSwish, switchable: SwitchChoices | None = None,
    ) -> None:
        super().__init__()
        proj_shapes, fc2_shapes = (), ()
        if switchable is not None:  # keyed as the projection and fc2 see their active shapes
            proj_shapes = tuple((w // head_dim, v * head_dim, w) for w in switchable.widths for v in switchable.v_scales)
            fc2_shapes = tuple((w * r, w) for w in switchable.widths for r in switchable.mlp_ratios)
        self.norm1 = ElasticLayerNorm(max_dim)
        self.attn = ElasticAttention(max_dim, head_dim, max_v_scale * head_dim, grids, act_layer, proj_shapes)
        self.drop_path1 = drop_path_or_identity(drop_path)
        self.norm2 = ElasticLayerNorm(max_dim)
        self.mlp = ElasticMlp(max_dim, max_dim * max_mlp_ratio, act_layer, fc2_shapes)
        self.drop_path2 = drop_path_or_identity(drop_path)

    def _configure(self, spec: BlockSpec) -> None:
        self.norm1.set_active(spec.c_in)
        self.attn.set_active(spec.c_in, spec.heads, spec.v_dim, spec.hw)
        self.norm2.set_active(spec.c_in)
        self.mlp.set_active(spec.c_in, spec.hidden)

    def zero_init_last(self) -> None:
        nn.init.zeros_(self.attn.proj.weight)
        nn.init.zeros_(self.mlp.fc2.weight)


class ElasticClassifierHead(ClassifierHeadBase, ElasticBlock):
    def __init__(
        self, max_in: int, expansion: int, width: int, num_classes: int,
        dropout: float = 0.0, act_layer: type[nn.Module] = HardSwish,
    ) -> None:
        super().__init__()
        self.conv = ElasticConv2d(max_in, max_in * expansion)
        self.bn = ElasticBatchNorm2d(max_in * expansion)
        self.act = act_layer()
        self.fc = ElasticLinear(max_in * expansion, width)
        self.drop = nn.Dropout(dropout)
        self.classifier = ElasticLinear(width, num_classes)

    def _configure(self, spec: BlockSpec) -> None:
        self.conv.set_active(spec.c_in, spec.hidden)
        self.bn.set_active(spec.hidden)
        self.fc.set_active(spec.hidden, spec.width)

