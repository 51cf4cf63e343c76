"""Static blocks, one class per block kind, and ``build_block(spec)``.

Each block's ``forward`` lives in a ``*Base`` class shared with its elastic counterpart
(``elasticvit.nn.elastic_blocks``): both have the same child modules under the same names, so the
elastic block runs exactly the computation of the static block it extracts to, and extraction is a
``load_state_dict`` of the elastic ops' active slices. Every block maps NCHW to NCHW (the head to
logits); transformer blocks flatten to tokens inside.
"""

from __future__ import annotations

import torch
from timm.layers import DropPath, Mlp, SEModule, get_act_layer
from torch import nn

from elasticvit.nn.attention import RelativePositionBias
from elasticvit.space.specs import SE_REDUCTION, V_CONV_KERNEL, BlockSpec

HardSwish = get_act_layer("hard_swish")


def drop_path_or_identity(rate: float) -> nn.Module:
    return DropPath(rate) if rate > 0 else nn.Identity()


# --- shared forwards ------------------------------------------------------------------------------


class ConvBnActBase(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class DepthwiseSeparableBase(nn.Module):
    """Residual depthwise conv + pointwise conv (the stem layer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.act(self.bn1(self.conv_dw(x)))
        x = self.bn2(self.conv_pw(x))
        return shortcut + self.drop_path(x)


class MBConvBase(nn.Module):
    """Inverted residual: expand 1x1, depthwise, optional squeeze-excite, project 1x1."""

    has_skip: bool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.act1(self.bn1(self.conv_pw(x)))
        x = self.act2(self.bn2(self.conv_dw(x)))
        x = self.se(x)
        x = self.bn3(self.conv_pwl(x))
        return shortcut + self.drop_path(x) if self.has_skip else x


class AttentionBase(nn.Module):
    """Multi-head self-attention with a depthwise conv on V, relative-position bias, hard-swish output."""

    heads: int
    head_dim: int
    v_dim: int
    grid: int

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        h, dh, dv, g = self.heads, self.head_dim, self.v_dim, self.grid
        q, k, v = self.qkv(x).split([h * dh, h * dh, h * dv], dim=-1)
        q = q.reshape(b, n, h, dh).transpose(1, 2)  # B, heads, N, head_dim
        k = k.reshape(b, n, h, dh).transpose(1, 2)  # B, heads, N, head_dim
        v = self.v_conv(v.transpose(1, 2).reshape(b, h * dv, g, g))  # B, heads*v_dim, g, g
        v = v.reshape(b, h, dv, n).transpose(2, 3)  # B, heads, N, v_dim
        attn = (q * dh**-0.5) @ k.transpose(-2, -1) + self.rel_pos()  # B, heads, N, N
        x = attn.softmax(dim=-1) @ v  # B, heads, N, v_dim
        x = x.transpose(1, 2).reshape(b, n, h * dv)  # B, N, heads*v_dim
        return self.proj(self.act(x))


class TransformerBlockBase(nn.Module):
    """Pre-norm attention and MLP on the tokens of an NCHW map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, hh, ww = x.shape
        x = x.flatten(2).transpose(1, 2)  # B, N, C
        x = x + self.drop_path1(self.attn(self.norm1(x)))
        x = x + self.drop_path2(self.mlp(self.norm2(x)))
        return x.transpose(1, 2).reshape(b, c, hh, ww)


class ClassifierHeadBase(nn.Module):
    """MobileNetV3 head: 1x1 conv + BN + act, global pooling, linear + act, dropout, classifier."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn(self.conv(x)))
        x = x.mean((2, 3))  # B, C
        x = self.drop(self.act(self.fc(x)))
        return self.classifier(x)


# --- static blocks --------------------------------------------------------------------------------


class ConvBnAct(ConvBnActBase):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, act_layer: type[nn.Module] = HardSwish) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.act = act_layer()


class DepthwiseSeparable(DepthwiseSeparableBase):
    def __init__(self, channels: int, kernel: int, drop_path: float = 0.0, act_layer: type[nn.Module] = HardSwish) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(channels, channels, kernel, 1, kernel // 2, groups=channels, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.act = act_layer()
        self.conv_pw = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.drop_path = drop_path_or_identity(drop_path)


class MBConv(MBConvBase):
    def __init__(
        self, c_in: int, c_out: int, expansion: int, kernel: int, stride: int, se: bool,
        drop_path: float = 0.0, act_layer: type[nn.Module] = HardSwish,
    ) -> None:
        super().__init__()
        hidden = c_in * expansion
        self.conv_pw = nn.Conv2d(c_in, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.act1 = act_layer()
        self.conv_dw = nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.act2 = act_layer()
        self.se = squeeze_excite(hidden) if se else nn.Identity()
        self.conv_pwl = nn.Conv2d(hidden, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.has_skip = stride == 1 and c_in == c_out
        self.drop_path = drop_path_or_identity(drop_path)


def squeeze_excite(channels: int) -> SEModule:
    return SEModule(channels, rd_channels=channels // SE_REDUCTION, act_layer=nn.ReLU, gate_layer="hard_sigmoid")


class Attention(AttentionBase):
    def __init__(self, dim: int, heads: int, v_dim: int, grid: int, act_layer: type[nn.Module] = HardSwish) -> None:
        super().__init__()
        self.heads, self.head_dim, self.v_dim, self.grid = heads, dim // heads, v_dim, grid
        self.qkv = nn.Linear(dim, 2 * dim + heads * v_dim)
        self.v_conv = nn.Conv2d(heads * v_dim, heads * v_dim, V_CONV_KERNEL, padding=V_CONV_KERNEL // 2,
                                groups=heads * v_dim, bias=False)
        self.rel_pos = RelativePositionBias(heads, grid)
        self.act = act_layer()
        self.proj = nn.Linear(heads * v_dim, dim)


class TransformerBlock(TransformerBlockBase):
    def __init__(
        self, dim: int, heads: int, v_dim: int, mlp_ratio: int, grid: int,
        drop_path: float = 0.0, act_layer: type[nn.Module] = HardSwish,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, v_dim, grid, act_layer)
        self.drop_path1 = drop_path_or_identity(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, dim * mlp_ratio, act_layer=act_layer)
        self.drop_path2 = drop_path_or_identity(drop_path)


class ClassifierHead(ClassifierHeadBase):
    def __init__(
        self, c_in: int, expansion: int, width: int, num_classes: int,
        dropout: float = 0.0, act_layer: type[nn.Module] = HardSwish,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_in * expansion, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_in * expansion)
        self.act = act_layer()
        self.fc = nn.Linear(c_in * expansion, width)
        self.drop = nn.Dropout(dropout)
        self.classifier = nn.Linear(width, num_classes)


def build_block(spec: BlockSpec) -> nn.Module:
    """A randomly initialised static block for ``spec``, taking input of shape ``spec.input_shape(batch)``."""
    if spec.kind == "first_conv":
        return ConvBnAct(spec.c_in, spec.c_out, spec.kernel, spec.stride)
    if spec.kind == "stem":
        return DepthwiseSeparable(spec.c_in, spec.kernel)
    if spec.kind in ("mbconv", "downsample"):
        return MBConv(spec.c_in, spec.c_out, spec.expansion, spec.kernel, spec.stride, spec.se)
    if spec.kind == "transformer":
        return TransformerBlock(spec.c_in, spec.heads, spec.v_dim, spec.mlp_ratio, spec.hw)
    return ClassifierHead(spec.c_in, spec.expansion, spec.width, spec.c_out)
