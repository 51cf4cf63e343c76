"""The report's own figures, as PNGs written atomically: the latency split and the training curve.

The Pareto plots come from ``elasticvit.baselines.plots.plot_pareto``; only what no other package
draws lives here.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

# A bare Figure renders with Agg and never touches pyplot's global backend or a display.
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from elasticvit.report.breakdown import FIXED, LatencyBreakdown, Split, parts
from elasticvit.report.history import TrainingCurve
from elasticvit.utils.atomic import write_bytes


def plot_breakdown(breakdowns: Sequence[LatencyBreakdown], by: Split, path: str | os.PathLike[str]) -> Path:
    """One stacked bar per (subnet, device), one colour per kind or stage; negative parts below zero."""
    names = parts(breakdowns, by)
    fig = Figure(figsize=(max(6.0, 0.55 * len(breakdowns) + 2.5), 4.8), dpi=120)
    ax = fig.subplots()
    x = range(len(breakdowns))
    above = [0.0] * len(breakdowns)
    below = [0.0] * len(breakdowns)
    for j, name in enumerate(names):
        values = [b.split(by).get(name, 0.0) for b in breakdowns]
        bottoms = [above[i] if v >= 0 else below[i] for i, v in enumerate(values)]
        colour = "0.6" if name == FIXED else f"C{j % 10}"
        ax.bar(x, values, bottom=bottoms, color=colour, edgecolor="white", linewidth=0.5, label=name)
        for i, v in enumerate(values):
            if v >= 0:
                above[i] += v
            else:
                below[i] += v
    for i, b in enumerate(breakdowns):
        ax.annotate(f"{b.predicted_ms:.3g}", (i, above[i]), xytext=(0, 2), textcoords="offset points",
                    ha="center", fontsize=7)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xticks(list(x), [f"{b.subnet}\non {b.device}" for b in breakdowns], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("predicted latency (ms)")
    ax.set_title(f"Chosen subnets on every device: predicted latency per {by}", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def plot_training_curve(curve: TrainingCurve, path: str | os.PathLike[str]) -> Path:
    """Val top-1 of each probe level per epoch, with the mean train loss on a second axis."""
    fig = Figure(figsize=(6.5, 4.2), dpi=120)
    ax = fig.subplots()
    for name, values in curve.accuracy.items():
        ax.plot(curve.epochs, [100 * v for v in values], "o-", ms=3, lw=1, label=name)
    ax.set(xlabel="epoch", ylabel="val top-1 (%)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if curve.loss is not None:
        twin = ax.twinx()
        twin.plot(curve.epochs, curve.loss, ":", color="0.4", lw=1, label="train loss")
        twin.set_ylabel("mean train loss")
        twin.legend(loc="upper right", fontsize=7)
    ax.set_title("Supernet during training: probe subnets' accuracy per epoch", fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    return _save(fig, path)


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return write_bytes(path, buffer.getvalue())
