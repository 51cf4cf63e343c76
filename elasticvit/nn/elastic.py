"""Elastic (weight-sharing) leaf ops: each owns the full-size weights and runs a sub-configuration.

An op is configured with ``set_active(...)`` and then slices the leading channels of its weights in
``forward`` (``weight[:out, :in]``); a smaller kernel is the centre of the largest one. Nothing is
copied, so gradients land in the shared tensors. ``to_static()`` returns the plain PyTorch module
of the active configuration, holding copies of the slices.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from timm.layers import trunc_normal_
from torch import nn


class ActiveConfig(nn.Module):
    """Base of elastic modules: the attributes named in ``active_fields`` are the active configuration.

    They are plain values rewritten on every ``set_active`` (training switches archs several times
    per step), so they are stored directly, skipping ``nn.Module.__setattr__``'s checks for
    parameters, buffers and submodules, which would otherwise dominate the cost of switching.
    """

    active_fields: ClassVar[frozenset[str]] = frozenset()

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.active_fields:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


class ElasticOp(ActiveConfig, ABC):
    """A module that owns full-size weights and can produce its active static counterpart."""

    @abstractmethod
    def to_static(self) -> nn.Module:
        """A plain module with copies of the active slices of the weights (and buffers)."""


class ElasticConv2d(ElasticOp):
    """A dense convolution with a fixed kernel over the leading input and output channels."""

    active_fields = frozenset({"in_channels", "out_channels"})

    def __init__(self, max_in: int, max_out: int, kernel_size: int = 1, stride: int = 1, bias: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(max_out, max_in, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(max_out)) if bias else None
        self.stride = stride
        self.padding = kernel_size // 2
        self.in_channels, self.out_channels = max_in, max_out
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")

    def set_active(self, in_channels: int, out_channels: int) -> None:
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight[: self.out_channels, : self.in_channels]
        bias = None if self.bias is None else self.bias[: self.out_channels]
        return F.conv2d(x, weight, bias, self.stride, self.padding)

    def to_static(self) -> nn.Conv2d:
        k = self.weight.shape[-1]
        conv = nn.Conv2d(self.in_channels, self.out_channels, k, self.stride, self.padding, bias=self.bias is not None)
        conv.weight.data.copy_(self.weight[: self.out_channels, : self.in_channels])
        if self.bias is not None:
            conv.bias.data.copy_(self.bias[: self.out_channels])
        return conv


class ElasticDepthwiseConv2d(ElasticOp):
    """A depthwise convolution over the leading channels; kernel k is the centre k x k of the largest."""

    active_fields = frozenset({"channels", "kernel_size"})

    def __init__(self, max_channels: int, max_kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(max_channels, 1, max_kernel, max_kernel))
        self.stride = stride
        self.channels, self.kernel_size = max_channels, max_kernel
        nn.init.normal_(self.weight, std=math.sqrt(2.0 / max_kernel**2))  # He init, fan-out of one group

    def set_active(self, channels: int, kernel_size: int) -> None:
        if kernel_size % 2 != self.weight.shape[-1] % 2 or kernel_size > self.weight.shape[-1]:
            raise ValueError(f"kernel {kernel_size} is not centred in the largest kernel {self.weight.shape[-1]}")
        self.channels, self.kernel_size = channels, kernel_size

    def active_weight(self) -> torch.Tensor:
        start = (self.weight.shape[-1] - self.kernel_size) // 2
        end = start + self.kernel_size
        return self.weight[: self.channels, :, start:end, start:end]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.active_weight(), None, self.stride, self.kernel_size // 2, 1, self.channels)

    def to_static(self) -> nn.Conv2d:
        k = self.kernel_size
        conv = nn.Conv2d(self.channels, self.channels, k, self.stride, k // 2, groups=self.channels, bias=False)
        conv.weight.data.copy_(self.active_weight())
        return conv


def static_linear(weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Linear:
    """A plain ``nn.Linear`` holding copies of an elastic layer's active ``weight`` and ``bias``."""
    linear = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    linear.load_state_dict({"weight": weight, **({"bias": bias} if bias is not None else {})})
    return linear


class SwitchableScale(nn.Module):
    """Per-configuration output scales of a weight-shared linear layer (NASViT's switchable scaling).

    The layer's configurations share its weights but not these scales: one learned row per active
    shape the layer can run, started at 1. ``fold`` multiplies the active weight's rows and bias by
    the shape's row, so a layer extracted with the folded weights is a plain linear layer computing
    the same.
    """

    def __init__(self, shapes: Sequence[tuple[int, ...]], max_out: int) -> None:
        super().__init__()
        self.index = {shape: row for row, shape in enumerate(sorted(set(shapes)))}
        self.scales = nn.Parameter(torch.ones(len(self.index), max_out))

    def fold(
        self, shape: tuple[int, ...], weight: torch.Tensor, bias: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        row = self.index.get(shape)
        if row is None:
            raise ValueError(f"no switchable scale for active shape {shape}; built for {sorted(self.index)}")
        scale = self.scales[row, : weight.shape[0]]
        return weight * scale[:, None], None if bias is None else bias * scale


class ElasticLinear(ElasticOp):
    """A linear layer over the leading features; ``switchable_shapes`` (in, out) gives each its own
    output scale (``SwitchableScale``)."""

    active_fields = frozenset({"in_features", "out_features"})

    def __init__(
        self, max_in: int, max_out: int, bias: bool = True, switchable_shapes: Sequence[tuple[int, int]] = ()
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(max_out, max_in))
        self.bias = nn.Parameter(torch.zeros(max_out)) if bias else None
        self.switch = SwitchableScale(switchable_shapes, max_out) if switchable_shapes else None
        self.in_features, self.out_features = max_in, max_out
        trunc_normal_(self.weight, std=0.02)

    def set_active(self, in_features: int, out_features: int) -> None:
        self.in_features, self.out_features = in_features, out_features

    def active_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The active configuration's weight and bias (its output scale folded in)."""
        weight = self.weight[: self.out_features, : self.in_features]
        bias = None if self.bias is None else self.bias[: self.out_features]
        if self.switch is None:
            return weight, bias
        return self.switch.fold((self.in_features, self.out_features), weight, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, *self.active_parameters())

    def to_static(self) -> nn.Linear:
        return static_linear(*self.active_parameters())


class ElasticBatchNorm2d(nn.BatchNorm2d, ElasticOp):
    """BatchNorm over the leading channels; running statistics are full-size buffers, updated in place.

    A plain ``BatchNorm2d`` subclass, so code that resets and re-estimates BN statistics (BN
    recalibration with ``momentum=None``) works on the supernet unchanged.
    """

    active_fields = frozenset({"active_features"})

    def __init__(self, max_features: int) -> None:
        super().__init__(max_features)
        self.active_features = max_features

    def set_active(self, features: int) -> None:
        self.active_features = features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.active_features
        factor = 0.0
        if self.training:
            self.num_batches_tracked.add_(1)
            # momentum None: cumulative average, as in BatchNorm2d (used by BN recalibration)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        return F.batch_norm(
            x, self.running_mean[:c], self.running_var[:c], self.weight[:c], self.bias[:c],
            self.training, factor, self.eps,
        )

    def to_static(self) -> nn.BatchNorm2d:
        c = self.active_features
        bn = nn.BatchNorm2d(c, eps=self.eps, momentum=self.momentum)
        bn.load_state_dict({
            "weight": self.weight[:c], "bias": self.bias[:c], "running_mean": self.running_mean[:c],
            "running_var": self.running_var[:c], "num_batches_tracked": self.num_batches_tracked,
        })
        return bn


class ElasticLayerNorm(nn.LayerNorm, ElasticOp):

    active_fields = frozenset({"active_features"})
    def __init__(self, max_features: int) -> None:
        super().__init__(max_features)
        self.active_features = max_features

    def set_active(self, features: int) -> None:
        self.active_features = features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.active_features
        return F.layer_norm(x, (c,), self.weight[:c], self.bias[:c], self.eps)

    def to_static(self) -> nn.LayerNorm:
        c = self.active_features
        norm = nn.LayerNorm(c, eps=self.eps)
        norm.load_state_dict({"weight": self.weight[:c], "bias": self.bias[:c]})
        return norm
