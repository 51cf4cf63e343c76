"""Where a subnet's predicted latency goes on a device: its share per block kind and per stage.

The predictor says ``latency = sum_b (scale[kind_b] * (table[b] - overhead) + per_block[kind_b]) +
offset`` (see ``elasticvit.latency.predictor``). That sum splits exactly into one share per block,
``scale[kind_b] * (table[b] - overhead) + per_block[kind_b]``, plus the ``offset``, a per-run cost
that belongs to no block (it may be negative: it is a fitted intercept). Grouping the block shares by kind
(``first_conv``, ``stem``, ``mbconv``, ``downsample``, ``transformer``, ``head``) or by stage, with
the offset as its own ``fixed`` part, gives two splits that each add up to the prediction.

Comparing the same subnet's split on two devices shows why each device prefers its own subnet:
a device whose attention layers are relatively slow spends its budget on MBConv width instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from elasticvit.latency.predictor import LatencyPredictor
from elasticvit.space import Arch, SearchSpace

FIXED = "fixed"
"""The part of a prediction that belongs to no block: the correction's offset."""
KIND_ORDER = ("first_conv", "stem", "mbconv", "downsample", "transformer", "head", FIXED)
"""Kinds in the order an arch runs them (execution order, then the fixed part)."""
Split = Literal["kind", "stage"]


class LatencyBreakdown(BaseModel):
    """One subnet's predicted latency on one device, split two ways (ms; each split sums to the total)."""

    model_config = ConfigDict(frozen=True)

    subnet: str
    """A readable name for the subnet (e.g. the exported model's ``<device>-<budget>ms``)."""
    arch_id: str
    device: str
    predicted_ms: float
    by_kind: dict[str, float]
    """Per block kind in ``KIND_ORDER`` (kinds the arch does not run are left out), then ``fixed``."""
    by_stage: dict[str, float]
    """Per stage in execution order: ``first conv``, ``stem``, ``S1 mbconv``, ..., ``head``, ``fixed``."""

    def split(self, by: Split) -> dict[str, float]:
        return self.by_kind if by == "kind" else self.by_stage


def latency_breakdown(predictor: LatencyPredictor, arch: Arch, subnet: str | None = None) -> LatencyBreakdown:
    """Split ``predictor.predict(arch)`` into per-kind and per-stage parts that sum to it."""
    table, correction = predictor.table, predictor.table.correction
    blocks = predictor.blocks(arch)
    keys = [b.key for b in blocks]
    kinds = [table.entries[k].kind for k in keys]
    stages = block_stages(predictor.space, arch)
    if len(stages) != len(keys):  # the two walks over the arch must agree block for block
        raise ValueError(f"arch {arch.id}: {len(keys)} blocks but {len(stages)} stage labels")
    compute = (table.medians(keys) - table.overhead_per_block_ms).tolist()
    shares = [correction.block_share(kind, c, b.activations_m, arch.resolution) for kind, c, b in zip(kinds, compute, blocks, strict=True)]
    by_kind: dict[str, float] = {k: 0.0 for k in KIND_ORDER if k in kinds}
    by_stage: dict[str, float] = dict.fromkeys(stages, 0.0)
    for kind, stage, share in zip(kinds, stages, shares, strict=True):
        by_kind[kind] += share
        by_stage[stage] += share
    by_kind[FIXED] = by_stage[FIXED] = float(correction.offset_ms)
    return LatencyBreakdown(
        subnet=subnet or arch.id, arch_id=arch.id, device=predictor.device.name,
        predicted_ms=predictor.predict(arch), by_kind=by_kind, by_stage=by_stage,
    )


def block_stages(space: SearchSpace, arch: Arch) -> list[str]:
    """The stage label of each block ``arch_blocks`` yields, in the same order.

    A transformer stage's opening downsample MBConv belongs to that stage, as in the space.
    """
    labels = ["first conv", *["stem"] * len(arch.stem_kernels)]
    for i, (stage_space, stage) in enumerate(zip(space.stages, arch.stages, strict=True)):
        opening = 1 if stage_space.kind == "transformer" else 0
        labels += [f"S{i + 1} {stage_space.kind}"] * (opening + stage.depth)
    return [*labels, "head"]


def parts(breakdowns: Sequence[LatencyBreakdown], by: Split) -> list[str]:
    """Every part name any of ``breakdowns`` has in that split, in execution order, ``fixed`` last."""
    names: dict[str, None] = {}
    for b in breakdowns:
        names.update(dict.fromkeys(b.split(by)))
    if by == "kind":
        return [k for k in KIND_ORDER if k in names]
    return [n for n in names if n != FIXED] + ([FIXED] if FIXED in names else [])
