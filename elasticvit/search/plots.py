"""The accuracy-latency plot of a device's search: the evaluated cloud, its front, the chosen archs."""

from __future__ import annotations

import io
import os
from pathlib import Path

# A bare Figure renders with Agg and never touches pyplot's global backend or a display.
from matplotlib.figure import Figure

from elasticvit.search.driver import DeviceSearchResult
from elasticvit.utils.atomic import write_bytes


def plot_front(result: DeviceSearchResult, path: str | os.PathLike[str]) -> Path:
    """Write a PNG atomically: grey cloud, Pareto front as a step line, one star per budget."""
    fig = Figure(figsize=(6, 4.5), dpi=120)
    ax = fig.subplots()
    ax.scatter(
        [p.predicted_ms for p in result.cloud],
        [100 * p.val_accuracy for p in result.cloud],
        s=8, color="0.7", label=f"evaluated ({len(result.cloud)})",
    )
    ax.step(
        [p.predicted_ms for p in result.front],
        [100 * p.val_accuracy for p in result.front],
        # ranked by the loss, the front's top-1 need not rise monotonically
        where="post", color="tab:blue", marker="o", markersize=3, label=f"Pareto front (by val {result.rank_by})",
    )
    for budget in result.budgets:
        ax.axvline(budget.budget_ms, color="tab:red", linestyle=":", linewidth=0.8)
        ax.scatter([budget.predicted_ms], [100 * budget.val_accuracy], marker="*", s=120, color="tab:red", zorder=3)
    ax.scatter([], [], marker="*", s=120, color="tab:red", label="chosen per budget (dotted)")
    ax.set(xlabel=f"predicted latency on {result.device} (ms)", ylabel="val top-1 (%)")
    ax.set_title(f"{result.device}: {result.measured} measured, {result.cache_hits} from cache", fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return write_bytes(path, buffer.getvalue())
