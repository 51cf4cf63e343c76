"""Timing one runner: warm-up, repeated timed calls, robust statistics, re-measurement.

Latency samples on a shared machine are right-skewed: most calls take the undisturbed time, a few
are preempted or hit a cold cache. The median of the outlier-trimmed samples estimates the
undisturbed time and, unlike the minimum, does not reward a lucky run, so it is the figure tables
and predictions use. Mean and standard deviation are kept to judge the spread.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from elasticvit.latency.backends.base import Runner

# A sample further than this many robust standard deviations (1.4826 * MAD) from the median is an
# outlier (a preemption, an interrupt), not the block's latency.
OUTLIER_SIGMAS = 3.0
# Timer resolution and run-to-run jitter make a zero MAD meaningless; never trim closer than this.
MIN_RELATIVE_SPREAD = 0.02
MAX_ATTEMPTS = 3
MAX_SAMPLES = 10_000

Clock = Callable[[], int]
CLOCKS: dict[str, Clock] = {"wall": time.perf_counter_ns, "thread": time.thread_time_ns}
"""Nanosecond clocks by ``DeviceSpec.clock``: a thread's CPU time stops while the OS runs another
process, so on a shared machine it measures a single-threaded call as a dedicated core would."""

Statistic = Literal["median", "min"]
"""Which figure of a measurement predictions use (``LatencyConfig.statistic``)."""


class Measurement(BaseModel):
    """Statistics of the kept (outlier-trimmed) samples of the calmest attempt, in milliseconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int = Field(ge=1, description="samples kept after trimming outliers")
    trimmed: int = Field(ge=0, description="samples discarded as outliers")
    attempts: int = Field(ge=1, description="measurement rounds taken (re-measured if cv too high, or interleaved)")
    median_ms: float = Field(gt=0.0)
    mean_ms: float = Field(gt=0.0)
    std_ms: float = Field(ge=0.0)
    min_ms: float = Field(gt=0.0)
    cv: float = Field(ge=0.0, description="std / mean of the kept samples")

    def value(self, statistic: Statistic) -> float:
        """The figure predictions use: ``median`` or ``min`` (see ``LatencyConfig.statistic``)."""
        return self.median_ms if statistic == "median" else self.min_ms

    def scaled(self, factor: float) -> Measurement:
        """The same measurement with every time multiplied by ``factor`` (the cv is unchanged)."""
        return self.model_copy(update={k: getattr(self, k) * factor for k in ("median_ms", "mean_ms", "std_ms", "min_ms")})


def measure(
    runner: Runner,
    warmup: int,
    repeats: int,
    max_cv: float,
    min_time_s: float = 0.0,
    clock: Clock = time.perf_counter_ns,
    max_attempts: int = MAX_ATTEMPTS,
) -> Measurement:
    """Time ``runner``; if the coefficient of variation exceeds ``max_cv``, measure again.

    Of up to ``max_attempts`` rounds the one with the lowest cv is kept: a high spread means
    another process disturbed that round, and the calmest round is nearest the undisturbed latency.
    """
    best: Measurement | None = None
    for attempt in range(1, max_attempts + 1):
        current = summarize(time_calls(runner, warmup, repeats, min_time_s, clock))
        if best is None or current.cv < best.cv:
            best = current
        if best.cv <= max_cv:
            break
    assert best is not None  # max_attempts >= 1
    return best.model_copy(update={"attempts": attempt})


def measure_interleaved(
    runners: Sequence[Runner],
    rounds: int,
    warmup: int,
    repeats: int,
    min_time_s: float = 0.0,
    clock: Clock = time.perf_counter_ns,
    statistic: Statistic = "median",
    rng: np.random.Generator | None = None,
    target_ci: float | None = None,
) -> list[Measurement]:
    """Time several runners in up to ``rounds`` rounds, each visiting every runner once in a new order.

    Each round times a runner ``1/rounds`` of ``repeats`` and ``min_time_s``; of its rounds, the
    one with the lowest ``statistic`` is kept. Other jobs on a shared machine slow it for seconds
    at a time: timed back to back, every runner in such a stretch would read slow together (a
    step, not noise). Spread over the whole group's time, each runner almost always has a calm
    round, so all of them are read at the same, undisturbed speed. With ``target_ci`` a runner
    leaves the later rounds once its reading has ``settled`` (``attempts``: the rounds it took).
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    rng = rng or np.random.default_rng(0)
    per_round = max(1, math.ceil(repeats / rounds))
    history: list[list[Measurement]] = [[] for _ in runners]
    order = np.arange(len(runners))
    for r in range(rounds):
        rng.shuffle(order)
        # The first round warms every runner up fully; later ones only refill the caches that the
        # other runners evicted in between.
        round_warmup = warmup if r == 0 else min(warmup, 1)
        for i in order:
            if target_ci is not None and settled(history[i], statistic, target_ci):
                continue
            history[i].append(summarize(time_calls(runners[i], round_warmup, per_round, min_time_s / rounds, clock)))
    return [min(h, key=lambda m: m.value(statistic)).model_copy(update={"attempts": len(h)}) for h in history if h]


CI_Z = 1.96
"""Two-sided 95 % normal quantile."""
MEDIAN_SE = 1.2533
"""Standard error of a normal sample's median over that of its mean (sqrt(pi / 2))."""


def ci_halfwidth(m: Measurement) -> float:
    """Half-width (ms) of the 95 % confidence interval of a round's median, by the normal approximation."""
    return CI_Z * MEDIAN_SE * m.std_ms / math.sqrt(m.count)


def settled(rounds: Sequence[Measurement], statistic: Statistic, target: float) -> bool:
    """Whether more rounds would change a reading by more than ``target`` (a fraction of it).

    Two conditions, since either alone is fooled: the calmest round's confidence interval is within
    ``target`` of its value (it is not noise), and the two calmest rounds agree within ``target``
    (it is not one lucky or uniformly slowed round). A single round never settles.
    """
    if len(rounds) < 2:
        return False
    first, second = sorted(rounds, key=lambda m: m.value(statistic))[:2]
    best = first.value(statistic)
    return ci_halfwidth(first) <= target * best and second.value(statistic) - best <= target * best


def time_calls(
    runner: Runner, warmup: int, repeats: int, min_time_s: float = 0.0, clock: Clock = time.perf_counter_ns
) -> np.ndarray:
    """Milliseconds (by ``clock``) of each timed call after ``warmup`` untimed ones.

    At least ``repeats`` calls, and more until ``min_time_s`` of wall time has passed (at most
    ``MAX_SAMPLES``).
    """
    for _ in range(warmup):
        runner()
    samples: list[int] = []
    deadline = time.perf_counter_ns() + int(min_time_s * 1e9)
    # A garbage-collection pause inside a timed call would be charged to the block.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        while len(samples) < repeats or (time.perf_counter_ns() < deadline and len(samples) < MAX_SAMPLES):
            start = clock()
            runner()
            samples.append(clock() - start)
    finally:
        if gc_was_enabled:
            gc.enable()
    return np.array(samples, dtype=np.float64) / 1e6


def summarize(samples_ms: np.ndarray) -> Measurement:
    """Robust statistics of one round: trim outliers around the median, describe the rest."""
    samples = np.asarray(samples_ms, dtype=np.float64)
    if samples.size == 0:
        raise ValueError("no samples to summarise")
    kept = samples[~outlier_mask(samples)]
    mean = float(kept.mean())
    std = float(kept.std(ddof=1)) if kept.size > 1 else 0.0
    return Measurement(
        count=int(kept.size),
        trimmed=int(samples.size - kept.size),
        attempts=1,
        median_ms=float(np.median(kept)),
        mean_ms=mean,
        std_ms=std,
        min_ms=float(kept.min()),
        cv=std / mean,
    )


def outlier_mask(samples: np.ndarray) -> np.ndarray:
    """True for samples far from the median, in robust (MAD-based) standard deviations."""
    median = np.median(samples)
    mad = np.median(np.abs(samples - median))
    sigma = max(1.4826 * mad, MIN_RELATIVE_SPREAD * median)
    return np.abs(samples - median) > OUTLIER_SIGMAS * sigma
