"""Baselines: plain timm models trained on the same data with the same recipe and budget, timed
on the same devices, and compared with the searched subnets on each device's Pareto plot.

Entry points (plain functions, no orchestration): ``run_baseline`` trains, evaluates and times one
model; ``compare_all`` places the baselines among every device's search results and builds the
comparison table; ``write_report`` writes it with one Pareto plot per device. See docs/baselines.md.
"""

from elasticvit.baselines.compare import (
    Comparison,
    ComparisonRow,
    DevicePareto,
    ParetoPoint,
    baseline_point,
    compare,
    compare_all,
    comparison_table,
    device_pareto,
    markdown_table,
    searched_points,
)
from elasticvit.baselines.latency import measure_model
from elasticvit.baselines.models import (
    CheckpointError,
    UnknownModelError,
    check_model_name,
    count_macs,
    count_params,
    create_baseline,
)
from elasticvit.baselines.plots import plot_pareto
from elasticvit.baselines.records import BaselineResult
from elasticvit.baselines.report import comparison_dir, write_report
from elasticvit.baselines.run import baseline_dir, run_baseline, time_baseline
from elasticvit.baselines.train import Budget, TrainStats, evaluate, resolve_budget, train_baseline

__all__ = [
    "BaselineResult",
    "Budget",
    "CheckpointError",
    "Comparison",
    "ComparisonRow",
    "DevicePareto",
    "ParetoPoint",
    "TrainStats",
    "UnknownModelError",
    "baseline_dir",
    "baseline_point",
    "check_model_name",
    "compare",
    "compare_all",
    "comparison_dir",
    "comparison_table",
    "count_macs",
    "count_params",
    "create_baseline",
    "device_pareto",
    "evaluate",
    "markdown_table",
    "measure_model",
    "plot_pareto",
    "resolve_budget",
    "run_baseline",
    "searched_points",
    "time_baseline",
    "train_baseline",
    "write_report",
]
