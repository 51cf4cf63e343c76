"""Validation of subnets of the supernet: fixed probes per FLOPs level, BN recalibrated for each.

Reused by the search stage (``evaluate_subnet`` on any arch) and the sampling benchmark.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from torch import Tensor

from elasticvit.data import resize_batch
from elasticvit.model import Supernet
from elasticvit.space import Arch, SearchSpace
from elasticvit.space.complexity import arch_macs
from elasticvit.space.pools import FlopsPools
from elasticvit.training.bn_calibration import preserved_bn_state, recalibrate_bn
from elasticvit.training.records import ProbeResult

Batch = tuple[Tensor, Tensor]


class Probe(BaseModel):
    """A subnet validated every epoch; the same set for the whole run."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    arch: Arch
    level: int
    macs: int


def select_probes(
    space: SearchSpace, pools: FlopsPools, num_classes: int, per_level: int, seed: int
) -> list[Probe]:
    """The smallest and largest subnets plus ``per_level`` pool members of every level."""
    rng = np.random.default_rng([seed, 0x9B0E])
    probes = []
    for name, arch in (("smallest", space.smallest()), ("largest", space.largest())):
        macs = arch_macs(space, arch, num_classes)
        probes.append(Probe(name=name, arch=arch, level=pools.level_of(macs), macs=macs))
    for level in range(len(pools.bands)):
        for i in range(per_level):
            arch = pools.sample(level, rng)
            macs = arch_macs(space, arch, num_classes)
            probes.append(Probe(name=f"level{level}-{i}", arch=arch, level=level, macs=macs))
    return probes


@torch.no_grad()
def evaluate_subnet(
    model: Supernet,
    arch: Arch,
    val_batches: Iterable[Batch],
    calib_batches: Sequence[Tensor],
    autocast: contextlib.AbstractContextManager | None = None,
) -> tuple[float, float]:
    """(top-1 accuracy, mean cross-entropy) of ``arch`` after recalibrating its BN statistics.

    Changes the supernet's BN buffers; wrap in ``preserved_bn_state`` to keep them.
    """
    model.set_active(arch)
    with autocast or contextlib.nullcontext():
        recalibrate_bn(model, (resize_batch(x, arch.resolution) for x in calib_batches))
    return accuracy(model, arch, val_batches, autocast)


@torch.no_grad()
def accuracy(
    model: Supernet, arch: Arch, batches: Iterable[Batch], autocast: contextlib.AbstractContextManager | None = None
) -> tuple[float, float]:
    """(top-1 accuracy, mean cross-entropy) of ``arch`` with the BN statistics as they are."""
    model.set_active(arch)
    model.eval()
    correct, loss, count = 0, 0.0, 0
    with autocast or contextlib.nullcontext():
        for x, y in batches:
            logits = model(resize_batch(x, arch.resolution)).float()
            correct += int((logits.argmax(-1) == y).sum())
            loss += float(F.cross_entropy(logits, y, reduction="sum"))
            count += len(y)
    return correct / max(count, 1), loss / max(count, 1)


def validate_probes(
    model: Supernet,
    probes: Sequence[Probe],
    val_batches: Sequence[Batch],
    calib_batches: Sequence[Tensor],
    autocast: contextlib.AbstractContextManager | None = None,
) -> list[ProbeResult]:
    """Every probe's accuracy; the supernet's BN buffers and train/eval mode are restored after."""
    was_training = model.training
    results = []
    with preserved_bn_state(model):
        for probe in probes:
            acc, loss = evaluate_subnet(model, probe.arch, val_batches, calib_batches, autocast)
            results.append(
                ProbeResult(
                    name=probe.name, arch_id=probe.arch.id, level=probe.level, macs=probe.macs, accuracy=acc, loss=loss
                )
            )
    model.train(was_training)
    return results


def per_level_accuracy(results: Sequence[ProbeResult]) -> dict[str, float]:
    """"smallest", "largest" and "level{L}" (the mean over that level's probes)."""
    out = {r.name: r.accuracy for r in results if r.name in ("smallest", "largest")}
    levels: dict[int, list[float]] = {}
    for r in results:
        if r.name.startswith("level"):
            levels.setdefault(r.level, []).append(r.accuracy)
    out.update({f"level{lvl}": float(np.mean(accs)) for lvl, accs in sorted(levels.items())})
    return out
