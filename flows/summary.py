"""The table a pipeline run ends with: per device and budget, the chosen subnet."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from elasticvit.export.stage import ExportReport

COLUMNS = ("device", "budget (ms)", "latency (ms)", "MACs (M)", "val acc", "test acc", "arch")


def chosen_rows(exports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per exported subnet; latency is the measured one where the device was timed."""
    rows = []
    for export in exports:
        for model in ExportReport.load(export["exports"]).models:
            rows.append(
                {
                    "device": model.device,
                    "budget_ms": model.budget_ms,
                    "arch_id": model.arch_id,
                    "macs": model.macs,
                    "latency_ms": model.measured_ms if model.measured_ms is not None else model.predicted_ms,
                    "val_acc": model.val_accuracy,
                    "test_acc": model.test_accuracy,
                }
            )
    return rows


def _cells(row: dict[str, Any]) -> list[str]:
    macs = f"{row['macs'] / 1e6:.1f}" if row.get("macs") else "-"
    return [
        row["device"], f"{row['budget_ms']:.3f}", f"{row['latency_ms']:.3f}", macs,
        f"{row['val_acc']:.3f}", f"{row['test_acc']:.3f}", row["arch_id"],
    ]


def summary_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def render_summary(result: dict[str, Any], console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:  # a log file: wide enough that only the arch id wraps
            console = Console(width=160)
    console.print(f"MLflow pipeline run: {result['mlflow_run_id']}")
    data = result["data"]
    console.print(f"data: {data['data_dir']} (version {data['data_version']})")
    table = Table(title="Chosen subnet per device and latency budget")
    for col in COLUMNS:
        table.add_column(col, overflow="fold")
    for row in result["chosen"]:
        table.add_row(*_cells(row))
    console.print(table)
