"""A device's Pareto plot with the baselines on it: the search's cloud, front and chosen subnets,
plus one labelled marker per baseline.

The search stage's ``plot_front`` draws a finished figure from its own result and takes no extra
points, so this plot redraws the same search data from a ``DevicePareto`` and adds the baselines.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

# A bare Figure renders with Agg and never touches pyplot's global backend or a display.
from matplotlib.figure import Figure

from elasticvit.baselines.compare import DevicePareto
from elasticvit.utils.atomic import write_bytes

_BASELINE_MARKERS = "DsP^vX"


def plot_pareto(pareto: DevicePareto, path: str | os.PathLike[str], accuracy_label: str = "val top-1 (%)") -> Path:
    """Write a PNG atomically: grey evaluated subnets, their front, stars for chosen ones, baselines.

    ``accuracy_label`` names the accuracy the points carry (a benchmark may report test top-1).
    """
    fig = Figure(figsize=(6.5, 4.5), dpi=120)
    ax = fig.subplots()
    by_name = {p.name: p for p in pareto.subnets}
    cloud = [p for p in pareto.subnets if p.kind == "subnet"]
    chosen = [p for p in pareto.subnets if p.kind == "chosen"]
    front = [by_name[name] for name in pareto.front]
    ax.scatter([p.latency_ms for p in cloud], [100 * p.accuracy for p in cloud], s=8, color="0.7",
               label=f"searched subnets ({len(pareto.subnets)})")
    ax.step([p.latency_ms for p in front], [100 * p.accuracy for p in front], where="post", color="tab:blue",
            marker="o", markersize=3, label="Pareto front")
    ax.scatter([p.latency_ms for p in chosen], [100 * p.accuracy for p in chosen], marker="*", s=120,
               color="tab:red", zorder=3, label="chosen per budget")
    for i, b in enumerate(pareto.baselines):
        ax.scatter([b.latency_ms], [100 * b.accuracy], marker=_BASELINE_MARKERS[i % len(_BASELINE_MARKERS)], s=70,
                   color="black", zorder=4, label=f"baseline {b.name}")
        ax.annotate(b.name, (b.latency_ms, 100 * b.accuracy), xytext=(5, 4), textcoords="offset points", fontsize=7)
    timing = "all measured end to end" if all(p.measured for p in pareto.points) else \
        "measured for stars and baselines, else predicted"
    ax.set(xlabel=f"latency on {pareto.device} (ms; {timing})", ylabel=accuracy_label)
    ax.set_title(f"{pareto.device}: searched subnets vs baselines", fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return write_bytes(path, buffer.getvalue())
