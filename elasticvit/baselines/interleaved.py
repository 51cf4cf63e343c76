"""A device's searched subnets and the baselines timed end to end in ONE interleaved run.

The search times each chosen subnet on its own, and a baseline is timed when it is trained, maybe
hours apart: a stretch of load on the host then favours one side of a comparison. Here the chosen
subnets, the searched front (thinned to ``search.timed_front`` subnets, its ends kept) and every
trained baseline are prepared together and timed round-robin, so noise hits all of them alike; the
export, the comparison and the report show these figures, each subnet's prediction beside it.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict
from torch import nn

from elasticvit.baselines.models import create_baseline
from elasticvit.baselines.records import BaselineResult
from elasticvit.config.experiment import ExperimentConfig, SearchConfig
from elasticvit.latency import get_backend
from elasticvit.latency.devices import DeviceSpec
from elasticvit.latency.measure import Statistic
from elasticvit.latency.registry import device_spec
from elasticvit.latency.timing import arch_runner, measure_runners
from elasticvit.layout import timing_path
from elasticvit.model import Supernet
from elasticvit.search.driver import DeviceSearchResult
from elasticvit.space import Arch
from elasticvit.training.checkpoint import load_supernet
from elasticvit.utils.atomic import write_text
from elasticvit.utils.hashing import sha256_file


class TimedModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    """The subnet's arch id, or the baseline's timm model name."""
    kind: Literal["chosen", "front", "baseline"]
    measured_ms: float
    predicted_ms: float | None
    """The latency table's prediction (subnets only)."""


class InterleavedTiming(BaseModel):
    """One device's interleaved measurement, tied to the search result and supernet it timed."""

    model_config = ConfigDict(frozen=True)

    device: str
    supernet: str
    """sha256 of the supernet checkpoint the subnets were extracted from (the search result's)."""
    statistic: Statistic
    models: list[TimedModel]
    timing_s: float

    def measured_ms(self, name: str) -> float | None:
        return next((m.measured_ms for m in self.models if m.name == name), None)

    def covers(self, search: DeviceSearchResult) -> bool:
        """Whether this timing belongs to ``search``: the same device and supernet, every chosen arch timed."""
        return (self.device == search.device and self.supernet == search.supernet
                and all(self.measured_ms(b.arch_id) is not None for b in search.budgets))

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_text(path, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> InterleavedTiming:
        return cls.model_validate_json(Path(path).read_text())

    @classmethod
    def load_for(cls, path: str | os.PathLike[str], search: DeviceSearchResult) -> InterleavedTiming | None:
        """The timing at ``path`` if it exists and belongs to ``search`` (else None: a stale file is ignored)."""
        if not Path(path).is_file():
            return None
        timing = cls.load(path)
        return timing if timing.covers(search) else None


def device_timings(search_cfg: SearchConfig, searches: Sequence[DeviceSearchResult]) -> dict[str, InterleavedTiming]:
    """Device -> its interleaved timing on disk, for the searches that have one made for them."""
    found = {s.device: InterleavedTiming.load_for(timing_path(search_cfg, s.device), s) for s in searches}
    return {device: timing for device, timing in found.items() if timing is not None}


def timed_archs(result: DeviceSearchResult, front_max: int) -> dict[str, Literal["chosen", "front"]]:
    """Arch id -> ``chosen`` or ``front``: the search's chosen subnets, then its front (evenly thinned
    to ``front_max``, ends kept)."""
    picked: dict[str, Literal["chosen", "front"]] = {b.arch_id: "chosen" for b in result.budgets}
    front = [p.arch_id for p in result.front]
    if len(front) > front_max:
        front = [front[round(i)] for i in np.linspace(0, len(front) - 1, front_max)] if front_max else []
    for arch_id in front:
        picked.setdefault(arch_id, "front")
    return picked


def time_models(
    spec: DeviceSpec, cfg: ExperimentConfig, subnets: Sequence[tuple[Supernet, Arch]], nets: Sequence[nn.Module],
    resolution: int,
) -> list[float]:
    """Subnets (extracted from a supernet) and whole models timed end to end in one interleaved run on
    the device's backend; each one's latency in ms (``latency.statistic``), subnets first. ``resolution``
    is the whole models' input side."""
    backend = get_backend(spec)
    shape = (spec.batch_size, 3, resolution, resolution)
    with backend.session():
        runners = [arch_runner(backend, supernet, supernet.space, arch, supernet.num_classes)
                   for supernet, arch in subnets]
        runners += [backend.prepare(copy.deepcopy(net).cpu().eval(), shape) for net in nets]
        measured = measure_runners(runners, cfg.latency, spec)
    return [m.value(cfg.latency.statistic) for m in measured]


def time_front(
    cfg: ExperimentConfig, search: DeviceSearchResult, supernet_path: str | os.PathLike[str],
    baselines: Sequence[BaselineResult] = (),
) -> InterleavedTiming:
    """Time ``search``'s chosen subnets, its thinned front and the trained ``baselines`` interleaved
    on the search's device."""
    if sha256_file(supernet_path) != search.supernet:
        raise ValueError(f"{supernet_path}: not the supernet the search for '{search.device}' used "
                         f"({search.supernet[:12]}): run the search again")
    spec = device_spec(cfg, search.device)
    supernet, _ = load_supernet(supernet_path)
    picked = timed_archs(search, cfg.search.timed_front)
    predicted = {p.arch_id: p.predicted_ms for p in search.cloud} | {b.arch_id: b.predicted_ms for b in search.budgets}
    nets = [create_baseline(b.model, b.num_classes, b.weights) for b in baselines]
    resolutions = {b.resolution for b in baselines}
    if len(resolutions) > 1:
        raise ValueError(f"baselines at several input resolutions {sorted(resolutions)}: time them in separate runs")
    started = time.perf_counter()
    ms = time_models(spec, cfg, [(supernet, Arch.parse(a)) for a in picked], nets,
                     resolutions.pop() if resolutions else 0)
    models = [TimedModel(name=a, kind=kind, measured_ms=t, predicted_ms=predicted.get(a))
              for (a, kind), t in zip(picked.items(), ms[:len(picked)], strict=True)]
    models += [TimedModel(name=b.model, kind="baseline", measured_ms=t, predicted_ms=None)
               for b, t in zip(baselines, ms[len(picked):], strict=True)]
    return InterleavedTiming(device=search.device, supernet=search.supernet, statistic=cfg.latency.statistic,
                             models=models, timing_s=round(time.perf_counter() - started, 1))
