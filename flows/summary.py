"""The table a pipeline run ends with: per device, the chosen subnet of each latency budget and,
on the rows below it, the run's baselines on the same device; then why the figures may not be
trustworthy yet, and where the report is."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from elasticvit.baselines import BaselineResult
from elasticvit.export.run import ExportReport
from tasks.records import BaselineRecord, ExportRecord, PipelineResult, SummaryRow

COLUMNS = ("device", "model", "budget (ms)", "latency (ms)", "MACs (M)", "val acc", "test acc", "arch")


def chosen_rows(exports: list[ExportRecord]) -> list[SummaryRow]:
    """One row per exported subnet; latency is the measured one where the device was timed."""
    return [
        SummaryRow(
            device=model.device,
            model=model.name,
            budget_ms=model.budget_ms,
            arch_id=model.arch_id,
            macs=model.macs,
            latency_ms=model.measured_ms if model.measured_ms is not None else model.predicted_ms,
            val_acc=model.val_accuracy,
            test_acc=model.test_accuracy,
        )
        for export in exports
        for model in ExportReport.load(export.exports).models
    ]


def with_baselines(rows: list[SummaryRow], baselines: list[BaselineRecord]) -> list[SummaryRow]:
    """``rows`` with each device's baselines (their ``result`` files) after its subnets, as measured there."""
    results = [BaselineResult.load(b.result) for b in baselines]
    out: list[SummaryRow] = []
    for device in dict.fromkeys(r.device for r in rows):
        out += [r for r in rows if r.device == device]
        out += [
            SummaryRow(device=device, model=f"baseline {b.model}", budget_ms=None, arch_id="-", macs=b.macs,
                       latency_ms=b.latency_ms(device), val_acc=b.val_accuracy, test_acc=b.test_accuracy)
            for b in results
            if device in b.latency
        ]
    return out


def _cells(row: SummaryRow) -> list[str]:
    macs = f"{row.macs / 1e6:.1f}" if row.macs else "-"
    budget = f"{row.budget_ms:.3f}" if row.budget_ms is not None else "-"
    test = f"{row.test_acc:.3f}" if row.test_acc is not None else "-"
    return [row.device, row.model, budget, f"{row.latency_ms:.3f}", macs, f"{row.val_acc:.3f}", test, row.arch_id]


def summary_markdown(rows: list[SummaryRow]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def render_summary(result: PipelineResult, console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:  # a log file: wide enough that only the arch id wraps
            console = Console(width=160)
    console.print(f"MLflow pipeline run: {result.mlflow_run_id}")
    if result.mlflow_runs_url:  # the runs table: subnets (tags.kind = 'subnet') beside baselines
        console.print(f"MLflow runs: {result.mlflow_runs_url}")
    console.print(f"data: {result.data.data_dir} (version {result.data.data_version})")
    table = Table(title="Chosen subnet per device and latency budget, and the baselines on that device")
    for col in COLUMNS:
        table.add_column(col, overflow="fold")
    for row in with_baselines(result.chosen, result.baselines):
        table.add_row(*_cells(row))
    console.print(table)
    for warning in result.warnings:
        console.print(f"[bold yellow]too short to trust:[/] {warning}")
    if result.report:
        console.print(f"report: {result.report}")
