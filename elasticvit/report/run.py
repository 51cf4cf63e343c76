"""The ``report`` stage: a run's report from its config and its stages' records, in ``report_dir``.

The latency tables, the search space and the training history are found where the config puts
them (``latency.output_dir``, ``space.name``, ``training.output_dir``); a device without a table
gets no bars, a run without ``history.json`` (a supernet trained elsewhere) no training curve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from elasticvit.baselines.compare import Comparison, compare_all
from elasticvit.baselines.interleaved import device_timings
from elasticvit.baselines.records import BaselineResult
from elasticvit.config.experiment import ExperimentConfig
from elasticvit.export.run import ExportReport
from elasticvit.layout import table_path
from elasticvit.latency.predictor import LatencyPredictor
from elasticvit.latency.registry import experiment_devices
from elasticvit.report.history import TrainingCurve
from elasticvit.report.build import RunReport, build_run_report, write_run_report
from elasticvit.search.driver import DeviceSearchResult
from elasticvit.space import load_space
from elasticvit.training.checkpoint import HISTORY_NAME


def report_dir(cfg: ExperimentConfig) -> Path:
    """``<storage.artifacts_dir>/report``, beside the stages' own output folders."""
    return Path(cfg.storage.artifacts_dir) / "report"


def run_report(
    cfg: ExperimentConfig,
    searches: Sequence[DeviceSearchResult],
    exports: Sequence[ExportReport],
    comparison: Comparison | None = None,
    facts: Mapping[str, str] | None = None,
    baselines: Sequence[BaselineResult] = (),
    stage_s: Mapping[str, float] | None = None,
) -> tuple[RunReport, list[Path]]:
    """Build and write the report; return it and the files written, ``index.html`` last.

    Without a ``comparison`` (a run with no baselines) the Pareto data comes from ``searches`` alone.
    """
    space = load_space(cfg.space.name)
    tables = {d: table_path(cfg.latency.output_dir, d) for d in experiment_devices(cfg)}
    history = Path(cfg.training.output_dir) / HISTORY_NAME
    base = {"config": cfg.name, "space": cfg.space.name, "dataset": cfg.data.source, "sampler": cfg.sampling.strategy}
    report = build_run_report(
        f"elasticvit run report: {cfg.name}",
        exports,
        comparison if comparison is not None else compare_all(searches, [], device_timings(cfg.search, searches)),
        {d: LatencyPredictor.load(p, space) for d, p in tables.items() if p.exists()},
        curve=TrainingCurve.load(history) if history.exists() else None,
        facts={**base, **(facts or {})},
        baselines=baselines,
        stage_s=stage_s,
        noisy_devices=[s.device for s in searches if s.provenance.get("latency_trusted") == "false"],
    )
    return report, write_run_report(report, report_dir(cfg))
