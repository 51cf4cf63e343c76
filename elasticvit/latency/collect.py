"""Collecting a device's latency table: every distinct block, the call overhead, calibration.

The calibration archs are timed end to end first, then the blocks in interleaved groups scaled by
a speed reference whose baseline the calibration group set (``elasticvit.latency.timing``).

Collection is resumable: progress goes atomically to ``<table>.partial`` after every group of
blocks, a restart skips what is already there (if it was measured for the same space, device and settings),
and the table itself is only written once complete.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
from torch import nn
from tqdm.auto import tqdm

from elasticvit.config.experiment import LatencyConfig
from elasticvit.latency.backends import Backend, get_backend
from elasticvit.latency.correction import CalibrationPoint, fit_correction, kind_shares
from elasticvit.latency.devices import DeviceSpec
from elasticvit.latency.lut import (
    BlockEntry,
    LatencyTable,
    LatencyTableError,
    MeasureSettings,
    PartialTable,
    TableHeader,
    load_partial,
    make_header,
)
from elasticvit.latency.measure import Measurement
from elasticvit.latency.timing import (
    CALIBRATION_STREAM,
    GROUP_SIZE,
    ORDER_STREAM,
    SpeedReference,
    measure_archs,
    measure_group,
    measure_runner,
    sample_archs,
)
from elasticvit.model import Supernet
from elasticvit.nn.static import build_block
from elasticvit.space import Arch, SearchSpace
from elasticvit.space.specs import BlockSpec, arch_blocks, space_blocks
from elasticvit.utils.atomic import write_json
from elasticvit.utils.locking import exclusive_dir

log = logging.getLogger(__name__)


def collect_table(
    space: SearchSpace,
    device: DeviceSpec,
    num_classes: int,
    cfg: LatencyConfig,
    path: str | os.PathLike[str],
    progress: bool = True,
) -> LatencyTable:
    """Measure every block of ``space`` on ``device``, calibrate, and write the table to ``path``."""
    path = Path(path)
    with exclusive_dir(path.parent, f"latency collect {device.name}"):
        return _collect(space, device, num_classes, cfg, path, progress)


def _collect(
    space: SearchSpace, device: DeviceSpec, num_classes: int, cfg: LatencyConfig, path: Path, progress: bool
) -> LatencyTable:
    partial_path = partial_path_for(path)
    backend = get_backend(device)
    settings = MeasureSettings.from_config(cfg)
    header = make_header(space.name, space.hash, num_classes, device, settings, backend.versions())
    state = _resume(partial_path, header)
    specs = space_blocks(space, num_classes)
    supernet = Supernet(space, num_classes)
    with backend.session():
        reference = SpeedReference.create(backend, supernet, space, num_classes, cfg, state.reference)
        writer = _PartialWriter(partial_path, already_s=state.collect_s, reference=reference)
        if state.call_overhead is None:
            state = state.model_copy(update={"call_overhead": measure_call_overhead(backend, cfg)})
        # Calibration first: its group sets the reference's baseline among whole subnets, the
        # company every validation and search measurement keeps, so those read unscaled on a
        # steady machine; the block groups are then scaled to it.
        archs = calibration_archs(space, device.calibration_count(cfg.calibration_archs), cfg.seed)
        state = _calibrate(backend, supernet, space, archs, state, cfg, writer, progress, reference)
        state = _measure_blocks(backend, specs, state, cfg, writer, progress, reference)
    table = _finish(writer.stamp(state), space, overhead_once=backend.call_overhead_once)
    table.save(path)
    partial_path.unlink(missing_ok=True)
    return table


def partial_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def measure_call_overhead(backend: Backend, cfg: LatencyConfig) -> Measurement:
    """The runtime's cost of one call that computes nothing (an identity model)."""
    runner = backend.prepare(nn.Identity(), (backend.spec.batch_size, 1))
    return measure_runner(runner, cfg, backend.spec)


def calibration_archs(space: SearchSpace, n: int, seed: int) -> list[Arch]:
    """The smallest and largest subnets (they pin the line's ends), then random distinct ones."""
    fixed = [space.smallest(), space.largest()][: min(n, 2)]
    return fixed + sample_archs(space, n - len(fixed), np.random.default_rng([seed, CALIBRATION_STREAM]), fixed)


def _resume(partial_path: Path, header: TableHeader) -> PartialTable:
    """Continue from a partial file measured under the same conditions, else start afresh."""
    fresh = PartialTable(**header.model_dump())
    if not partial_path.exists():
        return fresh
    try:
        old = load_partial(partial_path)
    except LatencyTableError as exc:
        log.warning("ignoring unreadable partial table %s: %s", partial_path, exc)
        return fresh
    if _conditions(old) != _conditions(header):
        log.warning("ignoring partial table %s: measured under other conditions", partial_path)
        return fresh
    log.info("resuming from %s: %d blocks already measured", partial_path, len(old.entries))
    # Keep the measurements, take the header (versions, host, date) of this run.
    kept = {"entries", "call_overhead", "reference", "calibration", "collect_s"}
    return fresh.model_copy(update={k: getattr(old, k) for k in kept})


def _conditions(header: TableHeader) -> tuple[object, ...]:
    return (
        header.format_version,
        header.space_hash,
        header.num_classes,
        header.device.measurement_fields(),
        header.settings,
    )


def _measure_blocks(
    backend: Backend,
    specs: list[BlockSpec],
    state: PartialTable,
    cfg: LatencyConfig,
    writer: _PartialWriter,
    progress: bool,
    reference: SpeedReference | None,
) -> PartialTable:
    entries = dict(state.entries)
    # In a random order, a change in the machine's load during collection hits blocks of every
    # kind and size alike (noise that averages out in a sum) rather than, say, all transformers.
    todo = [s for s in specs if s.key not in entries]
    np.random.default_rng([cfg.seed, ORDER_STREAM]).shuffle(todo)  # type: ignore[arg-type]
    batch = backend.spec.batch_size
    bar = tqdm(total=len(specs), initial=len(specs) - len(todo), desc=f"{backend.spec.name} blocks",
               unit="block", disable=not progress)
    with bar:
        for start in range(0, len(todo), GROUP_SIZE):
            group = todo[start : start + GROUP_SIZE]
            runners = [backend.prepare(build_block(spec), spec.input_shape(batch)) for spec in group]
            measured, _ = measure_group(runners, cfg, backend.spec, reference)
            for spec, latency in zip(group, measured, strict=True):
                entries[spec.key] = BlockEntry(
                    kind=spec.kind,
                    input_shape=list(spec.input_shape(batch)),
                    config=spec.model_dump(mode="json"),
                    latency=latency,
                )
            state = writer.save(state.model_copy(update={"entries": entries}))
            bar.update(len(group))
    return state


def _calibrate(
    backend: Backend,
    supernet: Supernet,
    space: SearchSpace,
    archs: list[Arch],
    state: PartialTable,
    cfg: LatencyConfig,
    writer: _PartialWriter,
    progress: bool,
    reference: SpeedReference | None,
) -> PartialTable:
    """The calibration archs timed end to end (their block sums are added once every block is in)."""
    todo = [a for a in archs if a.id not in state.calibration]
    if not todo:
        return state
    with tqdm(total=len(todo), desc=f"{backend.spec.name} calibration", unit="arch", disable=not progress) as bar:
        measured = measure_archs(backend, supernet, space, todo, state.num_classes, cfg, reference, bar.update)
    calibration = {**state.calibration, **{a.id: m for a, (m, _) in zip(todo, measured, strict=True)}}
    return writer.save(state.model_copy(update={"calibration": calibration}))


def calibration_point(table: PartialTable | LatencyTable, space: SearchSpace, arch: Arch,
                      measured: Measurement) -> CalibrationPoint:
    """``arch`` measured end to end, next to its blocks' entries in ``table`` (in all, and per kind)."""
    blocks = arch_blocks(space, arch, table.num_classes)
    keys = [b.key for b in blocks]
    latencies = [table.entries[k].latency.value(table.settings.statistic) for k in keys]
    return CalibrationPoint(
        arch_id=arch.id,
        blocks=len(keys),
        block_sum_ms=float(sum(latencies)),
        by_kind=kind_shares(blocks, latencies),
        measured=measured,
        resolution=arch.resolution,
    )


def refit_correction(table: LatencyTable, space: SearchSpace) -> LatencyTable:
    """``table`` with its correction fitted again by this version, from its own calibration archs.

    Tables collected before the kind-group and resolution models lack the per-kind sums and the
    resolutions of their calibration archs; they follow from the entries and the arch ids, so such a
    table gets them here instead of being re-measured.
    """
    table.check(space.hash)
    points = [calibration_point(table, space, Arch.parse(p.arch_id), p.measured) for p in table.calibration]
    overhead = table.call_overhead.value(table.settings.statistic)
    correction = fit_correction(points, table.overhead_per_block_ms, overhead, table.settings.statistic)
    return table.model_copy(update={"calibration": points, "correction": correction})


def _finish(state: PartialTable, space: SearchSpace, overhead_once: bool) -> LatencyTable:
    assert state.call_overhead is not None  # measured before any block
    statistic = state.settings.statistic
    overhead = state.call_overhead.value(statistic)
    per_block = overhead if overhead_once else 0.0
    points = [calibration_point(state, space, Arch.parse(a), m) for a, m in state.calibration.items()]
    fields = state.model_dump(exclude={"entries", "call_overhead", "calibration"})
    return LatencyTable(
        **fields,
        entries=state.entries,
        call_overhead=state.call_overhead,
        overhead_per_block_ms=per_block,
        calibration=points,
        correction=fit_correction(points, per_block, overhead, statistic),
    )


class _PartialWriter:
    """Writes progress atomically, stamped with the collection time so far (over resumed runs) and
    the speed reference's baseline (set by the first group measured)."""

    def __init__(self, path: Path, already_s: float, reference: SpeedReference | None) -> None:
        self.path = path
        self._start = time.perf_counter() - already_s
        self.reference = reference

    def stamp(self, state: PartialTable) -> PartialTable:
        update: dict[str, object] = {"collect_s": time.perf_counter() - self._start}
        if self.reference is not None:
            update["reference"] = self.reference.baseline
        return state.model_copy(update=update)

    def save(self, state: PartialTable) -> PartialTable:
        state = self.stamp(state)
        write_json(self.path, state.model_dump(mode="json"))
        return state
