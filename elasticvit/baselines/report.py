"""The comparison's files: the table as JSON and Markdown, one Pareto plot per device.

They live in ``<baselines.output_dir>/comparison/``, beside (not inside) the per-model results in
``<baselines.output_dir>/models/``, so a pipeline tool can declare the models as inputs of the
comparison without the two overlapping.
"""

from __future__ import annotations

import os
from pathlib import Path

from elasticvit.baselines.compare import Comparison, markdown_table
from elasticvit.baselines.plots import plot_pareto
from elasticvit.utils.atomic import write_text

COMPARISON_JSON = "comparison.json"
COMPARISON_MD = "comparison.md"


def comparison_dir(output_dir: str | os.PathLike[str]) -> Path:
    return Path(output_dir) / "comparison"


def write_report(
    comparison: Comparison, out_dir: str | os.PathLike[str], accuracy: str = "val top-1"
) -> list[Path]:
    """Write ``comparison.json``, ``comparison.md`` and ``<device>.png`` into ``out_dir``; return the paths.

    ``accuracy`` names what the comparison's accuracies are, in the table's header and on the plots' axis.
    """
    out = Path(out_dir)
    paths = [comparison.save(out / COMPARISON_JSON), write_text(out / COMPARISON_MD, markdown_table(comparison.rows, accuracy))]
    paths += [plot_pareto(p, out / f"{p.device}.png", f"{accuracy} (%)") for p in comparison.paretos]
    return paths
