"""The attention's elastic parts, laid out per head so a weight row keeps its role in every subnet.

Heads follow the width (``heads = width / head_dim``, head_dim fixed), so Q and K are the leading
``heads * head_dim`` rows: row ``i`` is always dimension ``i % head_dim`` of head ``i // head_dim``.
V has ``v_dim = v_scale * head_dim`` channels per head and V-scale varies independently of the
width, so V (and the depthwise conv on V, and the output projection's input) are stored as
``[heads, v_dim, ...]`` and sliced on both axes: V channel ``d`` of head ``j`` is the same weight
row whatever the numbers of heads and V channels are. The relative-position bias table is sized for
the largest token grid and cropped around its centre for smaller grids.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from timm.layers import trunc_normal_
from torch import nn

from elasticvit.nn.elastic import ElasticOp, SwitchableScale, static_linear


class ElasticQKV(ElasticOp):
    """Fused Q, K, V projection; output columns are [q (heads*head_dim), k (same), v (heads*v_dim)]."""

    active_fields = frozenset({"in_features", "heads", "v_dim"})

    def __init__(self, max_in: int, max_heads: int, head_dim: int, max_v_dim: int, bias: bool = True) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.qk_weight = nn.Parameter(torch.empty(2, max_heads * head_dim, max_in))  # q, k
        self.v_weight = nn.Parameter(torch.empty(max_heads, max_v_dim, max_in))
        self.qk_bias = nn.Parameter(torch.zeros(2, max_heads * head_dim)) if bias else None
        self.v_bias = nn.Parameter(torch.zeros(max_heads, max_v_dim)) if bias else None
        self.in_features, self.heads, self.v_dim = max_in, max_heads, max_v_dim
        trunc_normal_(self.qk_weight, std=0.02)
        trunc_normal_(self.v_weight, std=0.02)

    def set_active(self, in_features: int, heads: int, v_dim: int) -> None:
        self.in_features, self.heads, self.v_dim = in_features, heads, v_dim

    def active_weight(self) -> torch.Tensor:
        qk, c = self.heads * self.head_dim, self.in_features
        return torch.cat([
            self.qk_weight[:, :qk, :c].reshape(2 * qk, c),
            self.v_weight[: self.heads, : self.v_dim, :c].reshape(self.heads * self.v_dim, c),
        ])

    def active_bias(self) -> torch.Tensor | None:
        if self.qk_bias is None or self.v_bias is None:
            return None
        qk = self.heads * self.head_dim
        return torch.cat([self.qk_bias[:, :qk].reshape(-1), self.v_bias[: self.heads, : self.v_dim].reshape(-1)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.active_weight(), self.active_bias())

    def to_static(self) -> nn.Linear:
        return static_linear(self.active_weight(), self.active_bias())


class ElasticValueConv(ElasticOp):
    """Depthwise conv on V, channels in V's [heads, v_dim] layout."""

    active_fields = frozenset({"heads", "v_dim"})

    def __init__(self, max_heads: int, max_v_dim: int, kernel_size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(max_heads, max_v_dim, 1, kernel_size, kernel_size))
        self.heads, self.v_dim = max_heads, max_v_dim
        nn.init.normal_(self.weight, std=math.sqrt(2.0 / kernel_size**2))  # He init, fan-out of one group

    def set_active(self, heads: int, v_dim: int) -> None:
        self.heads, self.v_dim = heads, v_dim

    def active_weight(self) -> torch.Tensor:
        k = self.weight.shape[-1]
        return self.weight[: self.heads, : self.v_dim].reshape(self.heads * self.v_dim, 1, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = self.heads * self.v_dim
        return F.conv2d(x, self.active_weight(), None, 1, self.weight.shape[-1] // 2, 1, channels)

    def to_static(self) -> nn.Conv2d:
        channels, k = self.heads * self.v_dim, self.weight.shape[-1]
        conv = nn.Conv2d(channels, channels, k, padding=k // 2, groups=channels, bias=False)
        conv.weight.data.copy_(self.active_weight())
        return conv


class ElasticProjection(ElasticOp):
    """Output projection from the [heads, v_dim] attention output back to the width;
    ``switchable_shapes`` (heads, v_dim, out) gives each its own output scale (``SwitchableScale``)."""

    active_fields = frozenset({"heads", "v_dim", "out_features"})

    def __init__(
        self, max_heads: int, max_v_dim: int, max_out: int, bias: bool = True,
        switchable_shapes: Sequence[tuple[int, int, int]] = (),
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(max_out, max_heads, max_v_dim))
        self.bias = nn.Parameter(torch.zeros(max_out)) if bias else None
        self.switch = SwitchableScale(switchable_shapes, max_out) if switchable_shapes else None
        self.heads, self.v_dim, self.out_features = max_heads, max_v_dim, max_out
        trunc_normal_(self.weight, std=0.02)

    def set_active(self, heads: int, v_dim: int, out_features: int) -> None:
        self.heads, self.v_dim, self.out_features = heads, v_dim, out_features

    def active_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The active configuration's [out, heads * v_dim] weight and bias (its output scale folded in)."""
        c = self.out_features
        weight = self.weight[:c, : self.heads, : self.v_dim].reshape(c, self.heads * self.v_dim)
        bias = None if self.bias is None else self.bias[:c]
        if self.switch is None:
            return weight, bias
        return self.switch.fold((self.heads, self.v_dim, c), weight, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, *self.active_parameters())

    def to_static(self) -> nn.Linear:
        return static_linear(*self.active_parameters())


class RelativePositionBias(nn.Module):
    """A learned bias per head and relative offset (dy, dx) on a ``grid`` x ``grid`` token map."""

    def __init__(self, heads: int, grid: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.zeros(2 * grid - 1, 2 * grid - 1, heads))  # dy, dx, head
        self.register_buffer("index", relative_position_index(grid), persistent=False)
        trunc_normal_(self.table, std=0.02)

    def forward(self) -> torch.Tensor:
        return gather_bias(self.table, self.index)


class ElasticRelativePositionBias(ElasticOp):
    """One table for the largest grid; a smaller grid uses its centre, i.e. the same offsets' entries."""

    active_fields = frozenset({"heads", "grid"})

    def __init__(self, max_heads: int, grids: tuple[int, ...]) -> None:
        super().__init__()
        self.max_grid = max(grids)
        self.table = nn.Parameter(torch.zeros(2 * self.max_grid - 1, 2 * self.max_grid - 1, max_heads))
        for g in grids:  # only the grids the space's resolutions produce: index sizes grow as grid**4
            self.register_buffer(f"index_{g}", relative_position_index(g), persistent=False)
        self.heads, self.grid = max_heads, self.max_grid
        trunc_normal_(self.table, std=0.02)

    def set_active(self, heads: int, grid: int) -> None:
        if not hasattr(self, f"index_{grid}"):
            raise ValueError(f"grid {grid} was not declared to this bias table")
        self.heads, self.grid = heads, grid

    def active_table(self) -> torch.Tensor:
        start = self.max_grid - self.grid  # offset 0 sits at max_grid - 1 in the full table
        end = start + 2 * self.grid - 1
        return self.table[start:end, start:end, : self.heads]

    def forward(self) -> torch.Tensor:
        return gather_bias(self.active_table(), getattr(self, f"index_{self.grid}"))

    def to_static(self) -> RelativePositionBias:
        bias = RelativePositionBias(self.heads, self.grid)
        bias.table.data.copy_(self.active_table())
        return bias


def relative_position_index(grid: int) -> torch.Tensor:
    """For tokens i, j of a grid x grid map, the flat index of their offset in a (2g-1)^2 table."""
    coords = torch.stack(torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")).flatten(1)  # 2, N
    offsets = coords[:, :, None] - coords[:, None, :] + grid - 1  # 2, N, N, each in [0, 2g-2]
    return offsets[0] * (2 * grid - 1) + offsets[1]


def gather_bias(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The (heads, N, N) bias of a (2g-1, 2g-1, heads) table."""
    heads = table.shape[-1]
    return table.reshape(-1, heads)[index].permute(2, 0, 1)  # heads, N, N
