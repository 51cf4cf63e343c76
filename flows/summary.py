"""The table a pipeline run ends with: per device and budget, the chosen subnet."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def render_summary(result: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"MLflow pipeline run: {result['mlflow_run_id']}")
    data = result.get("data", {})
    if data:
        console.print(f"data: {data['data_dir']} (version {data['data_version']})")
    rows = result.get("chosen", [])
    if not rows:
        return
    table = Table(title="Chosen subnets")
    for col in ("device", "budget (ms)", "arch", "latency (ms)", "val acc", "test acc"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            row["device"], f"{row['budget_ms']:.2f}", row["arch_id"], f"{row['latency_ms']:.2f}",
            f"{row['val_acc']:.3f}", f"{row.get('test_acc', float('nan')):.3f}",
        )
    console.print(table)
