"""The predicted-versus-measured scatter plot of a validation report."""

from __future__ import annotations

import io
import os
from pathlib import Path

# A bare Figure renders with Agg and never touches pyplot's global backend or display.
from matplotlib.figure import Figure

from elasticvit.latency.validate import TOLERANCE, ValidationReport
from elasticvit.utils.atomic import write_bytes


def scatter_plot(report: ValidationReport, path: str | os.PathLike[str]) -> Path:
    """Write a PNG: one dot per subnet, the identity line and the +/-10 % band."""
    measured = [p.measured_ms for p in report.points]
    predicted = [p.predicted_ms for p in report.points]
    top = 1.05 * max(*measured, *predicted)
    fig = Figure(figsize=(5, 5), dpi=120)
    ax = fig.subplots()
    low, high = [0, top * (1 - TOLERANCE)], [0, top * (1 + TOLERANCE)]
    ax.fill_between([0, top], low, high, color="tab:green", alpha=0.15, label=f"±{TOLERANCE:.0%}")
    ax.plot([0, top], [0, top], color="tab:green", linewidth=1)
    ax.scatter(measured, predicted, s=12, color="tab:blue")
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="measured latency (ms)", ylabel="predicted latency (ms)")
    ax.set_title(
        f"{report.device}: {report.within_10pct:.0%} within ±{TOLERANCE:.0%}, "
        f"RMSE {report.rmse_ms:.3f} ms (n={report.n})",
        fontsize=9,
    )
    ax.legend(loc="upper left")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return write_bytes(path, buffer.getvalue())
