"""The table a pipeline run ends with: per device, the chosen subnet of each latency budget and,
on the rows below it, the run's baselines on the same device; then why the figures may not be
trustworthy yet, and where the report is."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from elasticvit.baselines import BaselineResult
from elasticvit.export.stage import ExportReport

COLUMNS = ("device", "model", "budget (ms)", "latency (ms)", "MACs (M)", "val acc", "test acc", "arch")


def chosen_rows(exports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per exported subnet; latency is the measured one where the device was timed."""
    rows = []
    for export in exports:
        for model in ExportReport.load(export["exports"]).models:
            rows.append(
                {
                    "device": model.device,
                    "model": model.name,
                    "budget_ms": model.budget_ms,
                    "arch_id": model.arch_id,
                    "macs": model.macs,
                    "latency_ms": model.measured_ms if model.measured_ms is not None else model.predicted_ms,
                    "val_acc": model.val_accuracy,
                    "test_acc": model.test_accuracy,
                }
            )
    return rows


def with_baselines(rows: list[dict[str, Any]], baselines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with each device's baselines (their ``result`` files) after its subnets, as measured there."""
    results = [BaselineResult.load(b["result"]) for b in baselines]
    out: list[dict[str, Any]] = []
    for device in dict.fromkeys(r["device"] for r in rows):
        out += [r for r in rows if r["device"] == device]
        out += [
            {"device": device, "model": f"baseline {b.model}", "budget_ms": None, "arch_id": "-", "macs": b.macs,
             "latency_ms": b.latency_ms(device), "val_acc": b.val_accuracy, "test_acc": b.test_accuracy}
            for b in results
            if device in b.latency
        ]
    return out


def _cells(row: dict[str, Any]) -> list[str]:
    macs = f"{row['macs'] / 1e6:.1f}" if row.get("macs") else "-"
    budget = f"{row['budget_ms']:.3f}" if row.get("budget_ms") is not None else "-"
    test = f"{row['test_acc']:.3f}" if row.get("test_acc") is not None else "-"
    return [
        row["device"], row.get("model", "-"), budget, f"{row['latency_ms']:.3f}", macs, f"{row['val_acc']:.3f}", test,
        row["arch_id"],
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
    if result.get("mlflow_runs_url"):  # the runs table: subnets (tags.kind = 'subnet') beside baselines
        console.print(f"MLflow runs: {result['mlflow_runs_url']}")
    data = result["data"]
    console.print(f"data: {data['data_dir']} (version {data['data_version']})")
    table = Table(title="Chosen subnet per device and latency budget, and the baselines on that device")
    for col in COLUMNS:
        table.add_column(col, overflow="fold")
    for row in with_baselines(result["chosen"], result.get("baselines") or []):
        table.add_row(*_cells(row))
    console.print(table)
    for warning in result.get("warnings") or []:
        console.print(f"[bold yellow]too short to trust:[/] {warning}")
    if result.get("report"):
        console.print(f"report: {result['report']}")
