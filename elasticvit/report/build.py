"""A pipeline run's report: what its records say, as one typed value, written as a page and its figures.

``build_run_report`` gathers the records the stages already wrote (each device's export report,
the baseline comparison, the training curve) and computes the one thing none of them holds: every
chosen subnet's latency split on every device. ``write_run_report`` writes it to a folder as
``index.html`` with its PNGs and ``report.json`` (the same ``RunReport``, for a program to read).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from elasticvit.baselines.compare import Comparison, DevicePareto
from elasticvit.baselines.records import BaselineResult
from elasticvit.baselines.plots import plot_pareto
from elasticvit.export.run import ExportedModel, ExportReport
from elasticvit.latency.predictor import LatencyPredictor
from elasticvit.report.breakdown import LatencyBreakdown, latency_breakdown
from elasticvit.report.figures import plot_breakdown, plot_training_curve
from elasticvit.report.history import TrainingCurve
from elasticvit.report.html import BREAKDOWN_PNG, CURVE_PNG, INDEX_HTML, pareto_png, render_html
from elasticvit.report.trust import trust_warnings
from elasticvit.space import Arch
from elasticvit.utils.atomic import write_text

REPORT_JSON = "report.json"


class RunReport(BaseModel):
    """Everything the page shows; accuracies are fractions, latencies ms."""

    model_config = ConfigDict(frozen=True)

    title: str
    facts: dict[str, str] = {}
    """Shown under the title as ``key: value`` (config, MLflow run, data version...)."""
    exports: list[ExportReport]
    """One per device, in the order the page lists devices."""
    comparison: Comparison
    """Every device's Pareto data with the baselines on it (none: empty rows) and the comparison rows."""
    curve: TrainingCurve | None = None
    breakdowns: list[LatencyBreakdown]
    """Every chosen subnet on every device with a table, grouped by subnet."""
    baselines: list[BaselineResult] = []
    """The run's trained baselines (their test accuracy; the comparison rows hold val)."""
    stage_s: dict[str, float] = {}
    """Wall seconds per pipeline stage, in run order (a cached stage counts its lookup only)."""
    warnings: list[str] = []
    """Why the figures should not be trusted yet (``trust_warnings``); empty when nothing says so."""

    @property
    def devices(self) -> list[str]:
        return [e.device for e in self.exports]

    def pareto(self, device: str) -> DevicePareto | None:
        return next((p for p in self.comparison.paretos if p.device == device), None)


def build_run_report(
    title: str,
    exports: Sequence[ExportReport],
    comparison: Comparison,
    predictors: Mapping[str, LatencyPredictor],
    curve: TrainingCurve | None = None,
    facts: Mapping[str, str] | None = None,
    baselines: Sequence[BaselineResult] = (),
    stage_s: Mapping[str, float] | None = None,
    noisy_devices: Sequence[str] = (),
) -> RunReport:
    """The report of one run. ``predictors`` (device -> its table's predictor) set the bars' devices;
    ``noisy_devices`` were searched on an untrusted latency table."""
    return RunReport(
        title=title, facts=dict(facts or {}), exports=list(exports), comparison=comparison, curve=curve,
        breakdowns=chosen_breakdowns(exports, predictors), baselines=list(baselines), stage_s=dict(stage_s or {}),
        warnings=trust_warnings(curve, exports, noisy_devices),
    )


def chosen_breakdowns(
    exports: Sequence[ExportReport], predictors: Mapping[str, LatencyPredictor]
) -> list[LatencyBreakdown]:
    """Each chosen subnet (an arch chosen for two budgets once) split on each device, subnet by subnet."""
    return [
        latency_breakdown(predictor, Arch.parse(model.arch_id), subnet=model.name)
        for model in unique_archs(exports)
        for predictor in predictors.values()
    ]


def unique_archs(exports: Sequence[ExportReport]) -> list[ExportedModel]:
    """The exported models in order, leaving out any whose arch an earlier one already has."""
    seen: dict[str, ExportedModel] = {}
    for model in (m for e in exports for m in e.models):
        seen.setdefault(model.arch_id, model)
    return list(seen.values())


def write_run_report(report: RunReport, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the figures, ``report.json`` and ``index.html`` into ``out_dir``; return them, the page last.

    Files an earlier report left in ``out_dir`` (a device since dropped) are neither shown nor returned.
    """
    out = Path(out_dir)
    paths = [plot_pareto(p, out / pareto_png(d)) for d in report.devices if (p := report.pareto(d)) is not None]
    if report.breakdowns:
        paths += [plot_breakdown(report.breakdowns, by, out / png) for by, png in BREAKDOWN_PNG.items()]
    if report.curve is not None and report.curve.epochs:
        paths.append(plot_training_curve(report.curve, out / CURVE_PNG))
    paths.append(write_text(out / REPORT_JSON, report.model_dump_json(indent=2) + "\n"))
    return [*paths, write_text(out / INDEX_HTML, render_html(report, out))]
