"""Validating a predictor against end-to-end measurements of random subnets on its device."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from tqdm.auto import tqdm

from elasticvit.config.experiment import LatencyConfig
from elasticvit.layout import validation_path
from elasticvit.latency.backends import get_backend
from elasticvit.latency.devices import DeviceSpec
from elasticvit.latency.lut import LatencyTableError
from elasticvit.latency.predictor import LatencyPredictor
from elasticvit.latency.timing import VALIDATION_STREAM, SpeedReference, measure_archs, sample_archs
from elasticvit.model import Supernet
from elasticvit.space import Arch, SearchSpace
from elasticvit.utils.atomic import write_json

TOLERANCE = 0.10
"""A prediction counts as accurate within this relative error of the measured latency."""
SELF_AGREEMENT_FLOOR = 0.90
"""Below this share of subnets agreeing with themselves, the device's figures are called noise."""


class NoisyLatencyError(LatencyTableError):
    """The table's validation found the device disagreeing with itself: its latencies are noise."""


class ValidationPoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    arch_id: str
    predicted_ms: float
    measured_ms: float = Field(description="the table's statistic of the outlier-trimmed samples, "
                               "scaled to the table's reference speed")
    measured_cv: float
    speed_factor: float = Field(default=1.0, gt=0.0, description="the scaling applied (see SpeedReference)")
    remeasured_ms: float | None = Field(default=None, description="a second measurement, scaled alike")
    uncorrected_ms: float | None = Field(default=None, description="the prediction without any fitted term "
                                         "(``LatencyPredictor.uncorrected_ms``; reports before it: None)")


class ValidationReport(BaseModel):
    """How well one device's predictor matches measured end-to-end latency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str
    space: str
    space_hash: str
    n: int = Field(ge=1)
    within_10pct: float = Field(ge=0.0, le=1.0, description="share with |pred - meas| <= 10 % meas")
    within_10pct_raw: float = Field(ge=0.0, le=1.0, description="the same against the unscaled measurements")
    within_10pct_uncorrected: float | None = Field(
        default=None, ge=0.0, le=1.0, description="the same for the predictions without any fitted term: the "
        "block sums with the call overhead counted once (reports before it: None)"
    )
    rmse_ms: float = Field(ge=0.0)
    mean_abs_rel_error: float = Field(ge=0.0)
    max_abs_rel_error: float = Field(ge=0.0)
    remeasured: int = Field(default=0, ge=0, description="points measured a second time")
    remeasure_within_10pct: float | None = Field(
        default=None, ge=0.0, le=1.0, description="share of them whose second measurement is within "
        "10 % of the first: the device's agreement with itself, a ceiling for `within_10pct`"
    )
    remeasure_rms_rel_diff: float | None = Field(
        default=None, ge=0.0, description="root mean square of (second - first) / first"
    )
    measure_s: float = Field(ge=0.0, description="wall time of the end-to-end measurements")
    load_avg_1m: tuple[float, float] = Field(description="machine load before and after measuring")
    points: list[ValidationPoint]

    @classmethod
    def from_points(
        cls,
        points: list[ValidationPoint],
        device: str,
        space: str,
        space_hash: str,
        measure_s: float,
        load_avg_1m: tuple[float, float] = (0.0, 0.0),
    ) -> ValidationReport:
        predicted = np.array([p.predicted_ms for p in points])
        measured = np.array([p.measured_ms for p in points])
        raw = measured / np.array([p.speed_factor for p in points])
        rel = np.abs(predicted - measured) / measured
        uncorrected = [p.uncorrected_ms for p in points]
        twice = [p for p in points if p.remeasured_ms is not None]
        first = np.array([p.measured_ms for p in twice])
        second = np.array([p.remeasured_ms for p in twice])
        return cls(
            device=device,
            space=space,
            space_hash=space_hash,
            n=len(points),
            within_10pct=_share_within(predicted, measured),
            within_10pct_raw=_share_within(predicted, raw),
            within_10pct_uncorrected=None if None in uncorrected else _share_within(np.array(uncorrected), measured),
            rmse_ms=float(np.sqrt(np.mean((predicted - measured) ** 2))),
            mean_abs_rel_error=float(rel.mean()),
            max_abs_rel_error=float(rel.max()),
            remeasured=len(twice),
            remeasure_within_10pct=_share_within(second, first) if twice else None,
            remeasure_rms_rel_diff=float(np.sqrt(np.mean(((second - first) / first) ** 2))) if twice else None,
            measure_s=measure_s,
            load_avg_1m=load_avg_1m,
            points=points,
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_json(path, self.model_dump(mode="json"))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ValidationReport:
        return cls.model_validate_json(Path(path).read_text())

    def repredicted(self, predictor: LatencyPredictor) -> ValidationReport:
        """The same measurements judged against ``predictor``'s predictions, e.g. after its table's
        correction was fitted again: a better correction is checked without measuring again."""
        if predictor.table.space_hash != self.space_hash:
            raise LatencyTableError(f"validation of space hash {self.space_hash} cannot judge a predictor of "
                                    f"space hash {predictor.table.space_hash}")
        points = []
        for p in self.points:
            arch = Arch.parse(p.arch_id)
            points.append(p.model_copy(update={"predicted_ms": predictor.predict(arch),
                                               "uncorrected_ms": predictor.uncorrected_ms(arch)}))
        return ValidationReport.from_points(points, self.device, self.space, self.space_hash, self.measure_s,
                                            self.load_avg_1m)

    @property
    def trusted(self) -> bool:
        """Whether the device agreed with itself often enough (or was never timed twice)."""
        return self.noise_warning() is None

    def noise_warning(self) -> str | None:
        """One line when the device disagrees with itself too often for its figures to mean much."""
        agree = self.remeasure_within_10pct
        if agree is None or agree >= SELF_AGREEMENT_FLOOR:
            return None
        return (f"{self.device} is noisy: timed twice, only {agree:.0%} of {self.remeasured} subnets agree with "
                f"themselves within ±{TOLERANCE:.0%} (under {SELF_AGREEMENT_FLOOR:.0%}), so the predictor's "
                f"{self.within_10pct:.0%} and the searched latencies are mostly noise: stop other load on the "
                f"device, pin its threads, or raise latency.repeats")

    def summary(self) -> str:
        line = f"{self.within_10pct:.1%} within ±{TOLERANCE:.0%}, RMSE {self.rmse_ms:.4f} ms (n={self.n})"
        if self.remeasure_within_10pct is None:
            return line
        return (f"{line}; timed twice, {self.remeasure_within_10pct:.0%} of {self.remeasured} subnets agree "
                f"with themselves within ±{TOLERANCE:.0%}")


def validate_predictor(
    space: SearchSpace,
    predictor: LatencyPredictor,
    device: DeviceSpec,
    cfg: LatencyConfig,
    n: int | None = None,
    progress: bool = True,
) -> ValidationReport:
    """Measure ``n`` random subnets (default ``cfg.validate_archs``) on ``device`` and compare.

    The archs come from a random stream independent of the calibration archs, so the correction
    is judged on subnets it was not fitted to. If the table has a speed reference reading, the
    measurements are scaled to it (``within_10pct``) and also compared unscaled (``within_10pct_raw``).
    The first ``cfg.remeasure_archs`` archs are then timed again as a group of their own: where two
    measurements of one subnet disagree by 10 %, so may a prediction and a measurement.
    """
    table = predictor.table
    table.check(space.hash, device)
    archs = sample_archs(space, n or cfg.validate_archs, np.random.default_rng([cfg.seed, VALIDATION_STREAM]))
    backend = get_backend(device)
    supernet = Supernet(space, table.num_classes)
    again = archs[: cfg.remeasure_archs]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    with backend.session(), tqdm(total=len(archs) + len(again), desc=f"{device.name} validation", unit="arch",
                                 disable=not progress) as bar:
        # Scaled to the speed the table was measured at, when the table has a reference reading.
        reference = None
        if table.reference is not None:
            reference = SpeedReference.create(backend, supernet, space, table.num_classes, cfg, table.reference)
        measured = measure_archs(backend, supernet, space, archs, table.num_classes, cfg, reference, bar.update)
        remeasured = measure_archs(backend, supernet, space, again, table.num_classes, cfg, reference, bar.update)
    statistic = table.settings.statistic
    second = [m.value(statistic) for m, _ in remeasured] + [None] * (len(archs) - len(again))
    points = [
        ValidationPoint(arch_id=arch.id, predicted_ms=predictor.predict(arch), measured_ms=m.value(statistic),
                        measured_cv=m.cv, speed_factor=factor, remeasured_ms=m2,
                        uncorrected_ms=predictor.uncorrected_ms(arch))
        for arch, (m, factor), m2 in zip(archs, measured, second, strict=True)
    ]
    elapsed = time.perf_counter() - start
    load = (load_before, os.getloadavg()[0])
    return ValidationReport.from_points(points, device.name, table.space, table.space_hash, elapsed, load)


def _share_within(predicted: np.ndarray, measured: np.ndarray) -> float:
    """Share of predictions within ``TOLERANCE`` of the measured latency, relative to it."""
    return float(np.mean(np.abs(predicted - measured) <= TOLERANCE * measured))


def check_trusted(table: str | os.PathLike[str], allow_noisy: bool = False) -> str | None:
    """The noise warning of the validation beside ``table``; None when it is trusted, or when no
    validation newer than the table exists (never validated: nothing known against it).

    A noisy table raises ``NoisyLatencyError`` unless ``allow_noisy``: a search on it would choose
    subnets by measurement noise.
    """
    report_path, table = validation_path(table), Path(table)
    if not report_path.exists() or report_path.stat().st_mtime < table.stat().st_mtime:
        return None
    try:
        report = ValidationReport.model_validate_json(report_path.read_text())
    except ValueError as exc:
        raise LatencyTableError(f"{report_path}: not a validation report ({exc}); delete it or validate again") from exc
    warning = report.noise_warning()
    if warning and not allow_noisy:
        raise NoisyLatencyError(
            f"latency table {table} is untrusted: {warning}. Re-collect and validate it on a quiet device "
            f"(elasticvit latency collect/validate), or search anyway with --allow-noisy-latency "
            f"(search.allow_noisy_latency=true)"
        )
    return warning
