"""A pipeline run's report for people: one HTML page with its PNGs, built from the stages' records.

Per device, the Pareto front with the baselines marked, the chosen subnets with the baseline each
beats or loses to; the supernet's accuracy curve over training; and every chosen subnet's predicted
latency split per block kind and per stage on every device; and, on top, the reasons (if any) the
run is too short to trust (``trust_warnings``). ``run_report`` builds and writes
it from a config and the stages' records (``build_run_report`` then ``write_run_report`` from
records alone); see docs/orchestration.md ("The run report").
"""

from elasticvit.report.breakdown import FIXED, LatencyBreakdown, block_stages, latency_breakdown
from elasticvit.report.figures import plot_breakdown, plot_training_curve
from elasticvit.report.history import TrainingCurve
from elasticvit.report.html import INDEX_HTML, render_html, verdict, versus
from elasticvit.report.build import REPORT_JSON, RunReport, build_run_report, chosen_breakdowns, write_run_report
from elasticvit.report.run import report_dir, run_report
from elasticvit.report.trust import trust_warnings

__all__ = [
    "FIXED",
    "INDEX_HTML",
    "LatencyBreakdown",
    "REPORT_JSON",
    "RunReport",
    "TrainingCurve",
    "block_stages",
    "build_run_report",
    "chosen_breakdowns",
    "latency_breakdown",
    "plot_breakdown",
    "plot_training_curve",
    "render_html",
    "report_dir",
    "run_report",
    "trust_warnings",
    "verdict",
    "versus",
    "write_run_report",
]
