"""Collecting a device's latency table: every distinct block, the call overhead, calibration.

Blocks are timed in groups, and the archs of calibration and validation all together, each
interleaved over a few rounds (``measure_interleaved``), so a stretch of load from other jobs
cannot make a run of consecutive measurements read slow together; and a few fixed reference
subnets timed in every group (``SpeedReference``) scale groups measured at different machine
speeds (blocks, calibration, a validation days later) to one.

Collection is resumable: progress goes atomically to ``<table>.partial`` after every group of
blocks, a restart skips what is already there (if it was measured for the same space, device and settings),
and the table itself is only written once complete.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from torch import nn
from tqdm.auto import tqdm

from elasticvit.config.experiment import LatencyConfig
from elasticvit.latency.backends import Backend, Runner, get_backend
from elasticvit.latency.correction import CalibrationPoint, fit_correction
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
from elasticvit.latency.measure import CLOCKS, Measurement, measure, measure_interleaved
from elasticvit.model import Supernet
from elasticvit.model.blocks import BlockSpec, arch_blocks, build_block, space_blocks
from elasticvit.space import Arch, SearchSpace
from elasticvit.utils.atomic import write_json
from elasticvit.utils.locking import exclusive_dir

log = logging.getLogger(__name__)

GROUP_SIZE = 100
"""Runners timed interleaved at once (prepared together, so memory bounds it), and blocks measured
between two writes of the partial file."""

# Independent random streams (numpy SeedSequence entropy [seed, stream]) so calibration and
# validation never draw the same archs from the same seed.
CALIBRATION_STREAM = 1
VALIDATION_STREAM = 2
ORDER_STREAM = 3
INTERLEAVE_STREAM = 4
REFERENCE_STREAM = 5


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
    writer = _PartialWriter(partial_path, already_s=state.collect_s)
    specs = space_blocks(space, num_classes)
    supernet = Supernet(space, num_classes)
    with backend.session():
        reference = SpeedReference.create(backend, supernet, space, num_classes, cfg, state.reference)
        if state.call_overhead is None:
            state = state.model_copy(update={"call_overhead": measure_call_overhead(backend, cfg)})
        state = _measure_blocks(backend, specs, state, cfg, writer, progress, reference)
        archs = calibration_archs(space, cfg.calibration_archs, cfg.seed)
        state = _calibrate(backend, supernet, space, archs, state, cfg, writer, progress, reference)
    table = _finish(writer.stamp(state), overhead_once=backend.call_overhead_once)
    table.save(path)
    partial_path.unlink(missing_ok=True)
    return table


def partial_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def measure_call_overhead(backend: Backend, cfg: LatencyConfig) -> Measurement:
    """The runtime's cost of one call that computes nothing (an identity model)."""
    runner = backend.prepare(nn.Identity(), (backend.spec.batch_size, 1))
    return measure_runner(runner, cfg, backend.spec)


def measure_arch(
    backend: Backend,
    supernet: Supernet,
    space: SearchSpace,
    arch: Arch,
    num_classes: int,
    cfg: LatencyConfig,
) -> Measurement:
    """End-to-end latency of the subnet ``arch`` extracted as a static model."""
    return measure_runner(_arch_runner(backend, supernet, space, arch, num_classes), cfg, backend.spec)


def measure_archs(
    backend: Backend,
    supernet: Supernet,
    space: SearchSpace,
    archs: list[Arch],
    num_classes: int,
    cfg: LatencyConfig,
    reference: SpeedReference | None = None,
    progress: Callable[[int], object] | None = None,
) -> list[tuple[Measurement, float]]:
    """End-to-end latencies of several subnets, timed interleaved in groups, each with the factor
    its group was scaled by (see ``SpeedReference``; 1.0 without one); ``progress(n)`` after each group."""
    measured: list[tuple[Measurement, float]] = []
    for start in range(0, len(archs), GROUP_SIZE):
        group = archs[start : start + GROUP_SIZE]
        runners = [_arch_runner(backend, supernet, space, a, num_classes) for a in group]
        values, factor = _measure_group(runners, cfg, backend.spec, reference)
        measured += [(m, factor) for m in values]
        if progress is not None:
            progress(len(group))
    return measured


REFERENCE_ARCHS = 5
"""Subnets timed as the speed reference: the median of their factors, so that no one subnet's
noisy reading sets the scale of a whole group."""


class SpeedReference:
    """A few fixed subnets timed interleaved with every group of runners, as a yardstick of speed.

    A shared machine runs 5-25 % slower or faster for minutes at a time, on the thread clock too
    (a busy neighbour core or memory bus costs CPU time): blocks timed in one minute, calibration
    archs in the next and validation archs later would disagree by that much, which no correction
    fitted to the calibration can undo. Every group is therefore scaled by the median over the
    reference subnets of ``baseline / reading``: each one's first reading (kept in the table) over
    its reading in that group. On a device whose speed is steady the factors stay near 1.0.
    """

    def __init__(
        self, runners: list[Runner], cfg: LatencyConfig, spec: DeviceSpec, baseline: list[Measurement] | None
    ) -> None:
        self.runners = runners
        self.cfg = cfg
        self.spec = spec
        self.baseline = baseline

    @classmethod
    def create(
        cls,
        backend: Backend,
        supernet: Supernet,
        space: SearchSpace,
        num_classes: int,
        cfg: LatencyConfig,
        baseline: list[Measurement] | None,
    ) -> SpeedReference | None:
        """The reference of ``cfg`` (None if ``speed_reference`` is off), scaled to ``baseline`` if known."""
        if not cfg.speed_reference:
            return None
        archs = sample_archs(space, REFERENCE_ARCHS, np.random.default_rng([cfg.seed, REFERENCE_STREAM]))
        return cls([_arch_runner(backend, supernet, space, a, num_classes) for a in archs], cfg, backend.spec, baseline)

    def measure(self, runners: list[Runner]) -> tuple[list[Measurement], float]:
        """Time ``runners`` with the reference among them; their measurements scaled, and the factor."""
        measured = measure_runners([*runners, *self.runners], self.cfg, self.spec)
        measured, readings = measured[: len(runners)], measured[len(runners) :]
        if self.baseline is None:
            self.baseline = readings
        statistic = self.cfg.statistic
        factor = float(np.median([b.value(statistic) / r.value(statistic)
                                  for b, r in zip(self.baseline, readings, strict=True)]))
        return [m.scaled(factor) for m in measured], factor


def _arch_runner(backend: Backend, supernet: Supernet, space: SearchSpace, arch: Arch, num_classes: int) -> Runner:
    first = arch_blocks(space, arch, num_classes)[0]
    return backend.prepare(supernet.extract(arch), first.input_shape(backend.spec.batch_size))


def measure_runner(runner: Runner, cfg: LatencyConfig, device: DeviceSpec) -> Measurement:
    return measure(runner, cfg.warmup, cfg.repeats, cfg.max_cv, cfg.min_time_s, CLOCKS[device.clock])


def measure_runners(runners: list[Runner], cfg: LatencyConfig, device: DeviceSpec) -> list[Measurement]:
    """Several runners timed interleaved over ``cfg.rounds`` rounds."""
    rng = np.random.default_rng([cfg.seed, INTERLEAVE_STREAM, len(runners)])
    return measure_interleaved(runners, cfg.rounds, cfg.warmup, cfg.repeats, cfg.min_time_s,
                               CLOCKS[device.clock], cfg.statistic, rng, cfg.target_ci)


def _measure_group(
    runners: list[Runner], cfg: LatencyConfig, device: DeviceSpec, reference: SpeedReference | None
) -> tuple[list[Measurement], float]:
    """One group timed interleaved, scaled by ``reference`` if given; and the factor applied."""
    if reference is None:
        return measure_runners(runners, cfg, device), 1.0
    return reference.measure(runners)


def calibration_archs(space: SearchSpace, n: int, seed: int) -> list[Arch]:
    """The smallest and largest subnets (they pin the line's ends), then random distinct ones."""
    fixed = [space.smallest(), space.largest()][: min(n, 2)]
    return fixed + sample_archs(space, n - len(fixed), np.random.default_rng([seed, CALIBRATION_STREAM]), fixed)


def sample_archs(
    space: SearchSpace, n: int, rng: np.random.Generator, exclude: list[Arch] | None = None
) -> list[Arch]:
    """``n`` distinct random archs, none of them in ``exclude``."""
    seen = {a.id for a in exclude or []}
    archs: list[Arch] = []
    for _ in range(100 * n + 100):
        if len(archs) == n:
            break
        arch = space.sample(rng)
        if arch.id not in seen:
            seen.add(arch.id)
            archs.append(arch)
    if len(archs) < n:
        raise ValueError(f"the space has fewer than {n} distinct archs to sample")
    return archs


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
            measured, _ = _measure_group(runners, cfg, backend.spec, reference)
            if reference is not None:
                state = state.model_copy(update={"reference": reference.baseline})
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
    points = list(state.calibration)
    done = {p.arch_id for p in points}
    todo = [a for a in archs if a.id not in done]
    if not todo:
        return state
    with tqdm(total=len(todo), desc=f"{backend.spec.name} calibration", unit="arch", disable=not progress) as bar:
        measured = measure_archs(backend, supernet, space, todo, state.num_classes, cfg, reference, bar.update)
    statistic = state.settings.statistic
    for arch, (measurement, _) in zip(todo, measured, strict=True):
        keys = [b.key for b in arch_blocks(space, arch, state.num_classes)]
        points.append(
            CalibrationPoint(
                arch_id=arch.id,
                blocks=len(keys),
                block_sum_ms=float(sum(state.entries[k].latency.value(statistic) for k in keys)),
                measured=measurement,
            )
        )
    return writer.save(state.model_copy(update={"calibration": points}))


def _finish(state: PartialTable, overhead_once: bool) -> LatencyTable:
    assert state.call_overhead is not None  # measured before any block
    statistic = state.settings.statistic
    overhead = state.call_overhead.value(statistic)
    per_block = overhead if overhead_once else 0.0
    fields = state.model_dump(exclude={"entries", "call_overhead", "calibration"})
    return LatencyTable(
        **fields,
        entries=state.entries,
        call_overhead=state.call_overhead,
        overhead_per_block_ms=per_block,
        calibration=state.calibration,
        correction=fit_correction(state.calibration, per_block, overhead, statistic),
    )


class _PartialWriter:
    """Writes progress atomically, stamped with the collection time so far (over resumed runs)."""

    def __init__(self, path: Path, already_s: float) -> None:
        self.path = path
        self._start = time.perf_counter() - already_s

    def stamp(self, state: PartialTable) -> PartialTable:
        return state.model_copy(update={"collect_s": time.perf_counter() - self._start})

    def save(self, state: PartialTable) -> PartialTable:
        state = self.stamp(state)
        write_json(self.path, state.model_dump(mode="json"))
        return state
