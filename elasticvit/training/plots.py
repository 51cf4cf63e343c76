"""Validation accuracy against MACs of the probe subnets, as a PNG written atomically."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from elasticvit.training.records import ProbeResult
from elasticvit.utils.atomic import write_bytes


def plot_accuracy_vs_macs(
    series: Mapping[str, Sequence[ProbeResult]], path: Path | None = None, title: str = "",
    split: str = "val",
) -> bytes:
    """One scatter per named series (e.g. per epoch or per sampling strategy); returns the PNG bytes
    and writes them to ``path`` when given. ``split`` names the data the accuracies were measured on."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state, renders with Agg

    fig = Figure(figsize=(6, 4), dpi=120)
    ax = fig.add_subplot()
    for name, results in series.items():
        ordered = sorted(results, key=lambda r: r.macs)
        ax.plot([r.macs / 1e6 for r in ordered], [100 * r.accuracy for r in ordered], "o-", ms=4, lw=0.8, label=name)
    ax.set_xlabel("MACs (M)")
    ax.set_ylabel(f"{split} top-1 (%)")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    png = buf.getvalue()
    if path is not None:
        write_bytes(path, png)
    return png
