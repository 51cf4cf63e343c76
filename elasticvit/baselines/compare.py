"""Baselines against searched subnets on one device: the shared Pareto data and the comparison table.

Two figures answer "is the search worth it compared with training this model": the most accurate
searched subnet no slower than the baseline (accuracy gained at equal latency), and the fastest
searched subnet no less accurate (speed-up at equal accuracy). Either is ``None`` when no searched
subnet qualifies, which is where the baseline still wins.

Accuracies are val top-1 on both sides. Latencies are end-to-end measurements on the device's
backend wherever one exists, preferring the device's interleaved timing (``baselines.interleaved``:
chosen subnets, part of the front and the baselines in one run); a searched subnet measured nowhere
is placed at the latency table's prediction.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from elasticvit.baselines.interleaved import InterleavedTiming
from elasticvit.baselines.records import BaselineResult
from elasticvit.search.driver import DeviceSearchResult
from elasticvit.search.pareto import pareto_front
from elasticvit.utils.atomic import write_text


class ParetoPoint(BaseModel):
    """One model on a device's accuracy-latency plane."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The subnet's arch id, or the baseline's timm model name."""
    kind: Literal["subnet", "chosen", "baseline"]
    """``chosen``: a searched subnet picked for a latency budget; ``subnet``: any other evaluated one."""
    accuracy: float
    latency_ms: float
    measured: bool
    """Latency measured end to end on the device (else predicted from its table)."""


class DevicePareto(BaseModel):
    """Everything a device's Pareto plot shows: searched subnets, their front, the baselines."""

    model_config = ConfigDict(frozen=True)

    device: str
    points: list[ParetoPoint]
    front: list[str]
    """Names of the searched subnets on the accuracy-latency front, fastest first."""

    @property
    def subnets(self) -> list[ParetoPoint]:
        return [p for p in self.points if p.kind != "baseline"]

    @property
    def baselines(self) -> list[ParetoPoint]:
        return [p for p in self.points if p.kind == "baseline"]


class ComparisonRow(BaseModel):
    """One baseline on one device against the searched subnets there."""

    model_config = ConfigDict(frozen=True)

    device: str
    baseline: str
    baseline_acc: float
    baseline_ms: float
    subnet_at_latency: str | None
    """The most accurate searched subnet with latency <= the baseline's."""
    subnet_acc_at_latency: float | None
    subnet_ms_at_latency: float | None
    accuracy_gain: float | None
    """``subnet_acc_at_latency - baseline_acc`` (negative: the baseline is more accurate)."""
    subnet_at_accuracy: str | None
    """The fastest searched subnet with accuracy >= the baseline's."""
    subnet_acc_at_accuracy: float | None
    subnet_ms_at_accuracy: float | None
    speedup_at_accuracy: float | None
    """``baseline_ms / subnet_ms_at_accuracy`` (below 1: the baseline is faster)."""


def searched_points(result: DeviceSearchResult, timing: InterleavedTiming | None = None) -> list[ParetoPoint]:
    """Every evaluated subnet of a device's search, at its measured latency where it has one."""
    chosen = {b.arch_id: b for b in result.budgets}
    points = []
    for p in result.cloud:
        if p.arch_id in chosen:
            continue
        timed = timing.measured_ms(p.arch_id) if timing else None
        points.append(ParetoPoint(name=p.arch_id, kind="subnet", accuracy=p.val_accuracy,
                                  latency_ms=p.predicted_ms if timed is None else timed, measured=timed is not None))
    for b in chosen.values():
        timed = timing.measured_ms(b.arch_id) if timing else None
        measured = timed if timed is not None else b.measured_ms
        points.append(ParetoPoint(name=b.arch_id, kind="chosen", accuracy=b.val_accuracy,
                                  latency_ms=b.predicted_ms if measured is None else measured,
                                  measured=measured is not None))
    return points


def baseline_point(result: BaselineResult, device: str, timing: InterleavedTiming | None = None) -> ParetoPoint:
    timed = timing.measured_ms(result.model) if timing else None
    return ParetoPoint(name=result.model, kind="baseline", accuracy=result.val_accuracy,
                       latency_ms=result.latency_ms(device) if timed is None else timed, measured=True)


def device_pareto(
    search: DeviceSearchResult, baselines: Sequence[BaselineResult], timing: InterleavedTiming | None = None
) -> DevicePareto:
    """The device's searched subnets with its front, plus every baseline measured on that device."""
    subnets = searched_points(search, timing)
    front = pareto_front([p.latency_ms for p in subnets], [p.accuracy for p in subnets])
    marked = [baseline_point(b, search.device, timing) for b in baselines]
    return DevicePareto(device=search.device, points=subnets + marked, front=[subnets[i].name for i in front])


def compare(baseline: ParetoPoint, subnets: Sequence[ParetoPoint], device: str) -> ComparisonRow:
    """The two comparison figures of one baseline; ties go to the other figure's better side, then the name."""
    no_slower = [s for s in subnets if s.latency_ms <= baseline.latency_ms]
    at_latency = min(no_slower, key=lambda s: (-s.accuracy, s.latency_ms, s.name), default=None)
    no_worse = [s for s in subnets if s.accuracy >= baseline.accuracy]
    at_accuracy = min(no_worse, key=lambda s: (s.latency_ms, -s.accuracy, s.name), default=None)
    return ComparisonRow(
        device=device,
        baseline=baseline.name,
        baseline_acc=baseline.accuracy,
        baseline_ms=baseline.latency_ms,
        subnet_at_latency=at_latency.name if at_latency else None,
        subnet_acc_at_latency=at_latency.accuracy if at_latency else None,
        subnet_ms_at_latency=at_latency.latency_ms if at_latency else None,
        accuracy_gain=at_latency.accuracy - baseline.accuracy if at_latency else None,
        subnet_at_accuracy=at_accuracy.name if at_accuracy else None,
        subnet_acc_at_accuracy=at_accuracy.accuracy if at_accuracy else None,
        subnet_ms_at_accuracy=at_accuracy.latency_ms if at_accuracy else None,
        speedup_at_accuracy=baseline.latency_ms / at_accuracy.latency_ms if at_accuracy else None,
    )


def comparison_table(paretos: Sequence[DevicePareto]) -> list[ComparisonRow]:
    """One row per device and baseline, in the order given."""
    return [compare(b, p.subnets, p.device) for p in paretos for b in p.baselines]


class Comparison(BaseModel):
    """Every device's Pareto data with the baselines on it, and the comparison table over them."""

    model_config = ConfigDict(frozen=True)

    paretos: list[DevicePareto]
    rows: list[ComparisonRow]

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_text(path, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Comparison:
        return cls.model_validate_json(Path(path).read_text())


def compare_all(
    searches: Sequence[DeviceSearchResult], baselines: Sequence[BaselineResult],
    timings: Mapping[str, InterleavedTiming] | None = None,
) -> Comparison:
    """``timings``: device -> its interleaved timing (a device without one keeps its separate measurements)."""
    timings = timings or {}
    paretos = [device_pareto(s, baselines, timings.get(s.device)) for s in searches]
    return Comparison(paretos=paretos, rows=comparison_table(paretos))


def row_cells(row: ComparisonRow, pct: Callable[[float], str], ms_digits: int) -> tuple[str, str, str, str]:
    """The row's subnet figures as text: best subnet no slower, its gain, fastest no less accurate, its
    speed-up; "none" where no subnet qualifies."""
    at_latency = at_accuracy = gain = speedup = "none"
    if row.subnet_acc_at_latency is not None and row.accuracy_gain is not None:
        at_latency = f"{pct(row.subnet_acc_at_latency)} at {row.subnet_ms_at_latency:.{ms_digits}f} ms"
        gain = f"{100 * row.accuracy_gain:+.1f} pts"
    if row.subnet_ms_at_accuracy is not None and row.speedup_at_accuracy is not None:
        at_accuracy = f"{pct(row.subnet_acc_at_accuracy)} at {row.subnet_ms_at_accuracy:.{ms_digits}f} ms"
        speedup = f"{row.speedup_at_accuracy:.2f}x"
    return at_latency, gain, at_accuracy, speedup


def markdown_table(rows: Sequence[ComparisonRow], accuracy: str = "val top-1") -> str:
    """The table as Markdown: accuracies in %, latencies in ms; "none" where no subnet qualifies.

    ``accuracy`` heads the baselines' accuracy column (what the rows' accuracies are)."""
    lines = [
        f"| device | baseline | {accuracy} | latency | best subnet no slower | accuracy gain "
        "| fastest subnet no less accurate | speed-up |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        at_latency, gain, at_accuracy, speedup = row_cells(r, lambda a: f"{a:.1%}", 2)
        lines.append(
            f"| {r.device} | {r.baseline} | {r.baseline_acc:.1%} | {r.baseline_ms:.2f} ms | {at_latency} | {gain} "
            f"| {at_accuracy} | {speedup} |"
        )
    return "\n".join(lines) + "\n"
