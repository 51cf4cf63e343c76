"""The weight-sharing supernet: ``set_active(arch)``, ``forward``, ``extract(arch)``.

Each stage owns elastic blocks for its largest depth (a transformer stage: its downsample MBConv,
then its layers); an arch runs the first ``depth`` of them. ``set_active`` configures the blocks the
arch runs with the arch's block specs (the same list ``arch_blocks`` gives, one spec per block), so
the supernet and the extracted model run the same blocks in the same order.
"""

from __future__ import annotations

from torch import Tensor, nn

from elasticvit.model.subnet import SubnetModel
from elasticvit.nn.elastic_blocks import (
    ElasticBlock,
    ElasticClassifierHead,
    ElasticConvBnAct,
    ElasticDepthwiseSeparable,
    ElasticMBConv,
    ElasticTransformerBlock,
    SwitchChoices,
)
from elasticvit.space import Arch, SearchSpace
from elasticvit.space.specs import BlockSpec, arch_blocks, feasible_widths, stage_grids

NO_WEIGHT_DECAY_SUFFIXES = ("rel_pos.table", "qkv.qk_bias", "qkv.v_bias", "switch.scales")
PLAN_CACHE_SIZE = 10_000
"""Archs whose block lists are kept; the cache is cleared when full (bounds memory in long runs)."""


class Supernet(nn.Module):
    def __init__(
        self, space: SearchSpace, num_classes: int, drop_path: float = 0.0, zero_init_last: bool = False,
        switchable_scales: bool = False,
    ) -> None:
        super().__init__()
        self.space, self.num_classes = space, num_classes
        stage_widths = feasible_widths(space)
        widths = [max(w) for w in stage_widths]
        rates = iter(_drop_path_rates(space, drop_path))
        self.first_conv = ElasticConvBnAct(3, widths[0], space.first_conv.kernel, space.first_conv.stride)
        self.stem = nn.ModuleList(
            ElasticDepthwiseSeparable(widths[0], max(space.stem.kernels), next(rates))
            for _ in range(max(space.stem.depths))
        )
        self.stages = nn.ModuleList()
        for stage, c_in, c_out, choices, grids in zip(
            space.stages, widths[:-1], widths[1:], stage_widths[1:], stage_grids(space), strict=True
        ):
            layers: list[ElasticBlock] = []
            if stage.kind == "transformer":
                ds = space.downsample
                layers.append(ElasticMBConv(c_in, c_out, ds.expansion, ds.kernel, stage.stride, ds.se, next(rates)))
                switchable = SwitchChoices(choices, stage.mlp_ratios, stage.v_scales) if switchable_scales else None
                layers += [
                    ElasticTransformerBlock(c_out, space.head_dim, max(stage.v_scales), max(stage.mlp_ratios), grids,
                                            next(rates), switchable=switchable)
                    for _ in range(max(stage.depths))
                ]
            else:
                layers += [
                    ElasticMBConv(c_in if i == 0 else c_out, c_out, max(stage.expansions), max(stage.kernels),
                                  stage.stride if i == 0 else 1, stage.se, next(rates))
                    for i in range(max(stage.depths))
                ]
            self.stages.append(nn.ModuleList(layers))
        self.head = ElasticClassifierHead(widths[-1], space.head.expansion, space.head.width, num_classes,
                                          space.head.dropout)
        self._plans: dict[Arch, tuple[list[ElasticBlock], list[BlockSpec]]] = {}
        if zero_init_last:
            for block in self.residual_blocks():
                block.zero_init_last()
        self.set_active(space.largest())

    def set_active(self, arch: Arch) -> None:
        """Run ``arch`` from now on (validated against the space the first time it is seen)."""
        plan = self._plans.get(arch)
        if plan is None:
            plan = self._plan(arch)
        for block, spec in zip(*plan, strict=True):
            block.set_active(spec)
        self.active_blocks = plan[0]
        self.active_arch = arch

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the active arch; ``x`` is already at ``active_arch.resolution``."""
        for block in self.active_blocks:
            x = block(x)
        return x

    def extract(self, arch: Arch) -> SubnetModel:
        """A standalone static model of ``arch`` holding copies of the weights it uses.

        It is in the supernet's train/eval mode; the supernet's active arch is left unchanged.
        """
        previous = self.active_arch
        self.set_active(arch)
        blocks = [block.to_static() for block in self.active_blocks]
        self.set_active(previous)
        return SubnetModel(self.space, arch, self.num_classes, blocks).train(self.training)

    def residual_blocks(self) -> list[ElasticBlock]:
        """The blocks that add to their input in every arch that runs them: the stem's layers and
        every stage layer after the first (a stage's first block changes stride or width in some archs).

        Zeroing their last layer (BigNAS's and timm's ``zero_init_last``) starts each as the identity,
        so at initialisation an arch's deeper variants compute exactly what it does.
        """
        return [*self.stem, *(block for layers in self.stages for block in layers[1:])]

    def no_weight_decay(self) -> set[str]:
        """Parameters timm's optimizer factory keeps out of weight decay, besides the 1-D ones.

        The bias tables and the Q/K/V biases are stored with 2+ dimensions (per head), so timm's
        rule of thumb (no decay for ndim <= 1) would miss them.
        """
        return {name for name, _ in self.named_parameters() if name.endswith(NO_WEIGHT_DECAY_SUFFIXES)}

    def _plan(self, arch: Arch) -> tuple[list[ElasticBlock], list[BlockSpec]]:
        self.space.validate_arch(arch)
        blocks: list[ElasticBlock] = [self.first_conv, *self.stem[: len(arch.stem_kernels)]]
        for stage_space, stage, layers in zip(self.space.stages, arch.stages, self.stages, strict=True):
            opening = 1 if stage_space.kind == "transformer" else 0  # the downsample block
            blocks += layers[: opening + stage.depth]
        blocks.append(self.head)
        plan = (blocks, arch_blocks(self.space, arch, self.num_classes))
        if len(self._plans) >= PLAN_CACHE_SIZE:
            self._plans.clear()
        self._plans[arch] = plan
        return plan


def _drop_path_rates(space: SearchSpace, drop_path: float) -> list[float]:
    """Stochastic-depth rates rising linearly over the residual blocks of the largest arch."""
    blocks = max(space.stem.depths) + sum(
        max(s.depths) + (1 if s.kind == "transformer" else 0) for s in space.stages
    )
    return [drop_path * i / max(blocks - 1, 1) for i in range(blocks)]
