"""Timing subnets end to end, and runners in interleaved groups scaled to one machine speed.

The archs of calibration and validation, and the search's measurements, are timed here; so are the
groups of blocks a table is collected in (``elasticvit.latency.collect``). Runners are timed in
groups, each interleaved over a few rounds (``measure_interleaved``), so a stretch of load from
other jobs cannot make a run of consecutive measurements read slow together; and a few fixed
reference subnets timed in every group (``SpeedReference``) scale groups measured at different
machine speeds (blocks, calibration, a validation days later) to one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from elasticvit.config.experiment import LatencyConfig
from elasticvit.latency.backends import Backend, Runner
from elasticvit.latency.devices import DeviceSpec
from elasticvit.latency.measure import CLOCKS, Measurement, measure, measure_interleaved
from elasticvit.model import Supernet
from elasticvit.space import Arch, SearchSpace
from elasticvit.space.specs import arch_blocks

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


def measure_arch(
    backend: Backend,
    supernet: Supernet,
    space: SearchSpace,
    arch: Arch,
    num_classes: int,
    cfg: LatencyConfig,
) -> Measurement:
    """End-to-end latency of the subnet ``arch`` extracted as a static model."""
    return measure_runner(arch_runner(backend, supernet, space, arch, num_classes), cfg, backend.spec)


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
        runners = [arch_runner(backend, supernet, space, a, num_classes) for a in group]
        values, factor = measure_group(runners, cfg, backend.spec, reference)
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
    its reading in that group. A collection times its calibration archs first, so the baseline is
    read among whole subnets, as in every later validation or search measurement: on a device whose
    speed is steady those read unscaled (factors near 1.0), whatever the reference reads among the
    blocks.
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
        return cls([arch_runner(backend, supernet, space, a, num_classes) for a in archs], cfg, backend.spec, baseline)

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


def arch_runner(backend: Backend, supernet: Supernet, space: SearchSpace, arch: Arch, num_classes: int) -> Runner:
    """The subnet ``arch`` extracted as a static model and prepared on ``backend`` at its batch size."""
    first = arch_blocks(space, arch, num_classes)[0]
    return backend.prepare(supernet.extract(arch), first.input_shape(backend.spec.batch_size))


def measure_runner(runner: Runner, cfg: LatencyConfig, device: DeviceSpec) -> Measurement:
    return measure(runner, cfg.warmup, cfg.repeats, cfg.max_cv, cfg.min_time_s, CLOCKS[device.clock])


def measure_runners(runners: list[Runner], cfg: LatencyConfig, device: DeviceSpec) -> list[Measurement]:
    """Several runners timed interleaved over ``cfg.rounds`` rounds."""
    rng = np.random.default_rng([cfg.seed, INTERLEAVE_STREAM, len(runners)])
    return measure_interleaved(runners, cfg.rounds, cfg.warmup, cfg.repeats, cfg.min_time_s,
                               CLOCKS[device.clock], cfg.statistic, rng, cfg.target_ci)


def measure_group(
    runners: list[Runner], cfg: LatencyConfig, device: DeviceSpec, reference: SpeedReference | None
) -> tuple[list[Measurement], float]:
    """One group timed interleaved, scaled by ``reference`` if given; and the factor applied."""
    if reference is None:
        return measure_runners(runners, cfg, device), 1.0
    return reference.measure(runners)


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
