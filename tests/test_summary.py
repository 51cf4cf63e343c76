"""The summary a pipeline run ends with: one row per device and budget, read from the export reports."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from elasticvit.export.run import ExportedModel, ExportReport
from flows.summary import chosen_rows, render_summary, summary_markdown, with_baselines
from tasks.records import BaselineRecord, ExportRecord, PipelineResult, PreparedData, SummaryRow, SupernetRecord
from tests.test_baselines import make_baseline_result

ARCH = "r32-s16:k5-e3-d2" + "-x" * 40  # long, as real ids are


def _report(tmp_path: Path, measured: float | None) -> ExportRecord:
    model = ExportedModel(
        name="dev-2ms", device="dev", budget_ms=2.0, arch_id=ARCH, predicted_ms=1.9, measured_ms=measured,
        val_accuracy=0.5, standalone_val_accuracy=0.5, test_accuracy=0.45, onnx_max_abs_diff=1e-6,
        onnx_tolerance=1e-3, macs=12_300_000, params=1_000_000, onnx=tmp_path / "m.onnx",
        checkpoint=tmp_path / "m.pt", card=tmp_path / "card.md",
    )
    path = ExportReport(device="dev", supernet_sha256="s", data_version="d", models=[model]).save(tmp_path / "e.json")
    return ExportRecord(device="dev", exports=str(path), mlflow_run_id="e1", registered_model="quickstart-dev",
                        versions=["1"], test_accuracy={"dev-2ms": 0.45})


def _result(chosen: list[SummaryRow], warnings: list[str] | None = None) -> PipelineResult:
    """A pipeline's result around ``chosen``; the records the summary does not read hold placeholders."""
    return PipelineResult(
        mlflow_run_id="r1", mlflow_runs_url=None,
        data=PreparedData(data_dir="d", data_version="v", num_classes=10, mlflow_run_id="p1"),
        supernet=SupernetRecord(checkpoint="s.pt", supernet_sha256="s", final_metrics={}),
        latency={}, chosen=chosen, baselines=[], comparison=None, report="/x/index.html",
        warnings=warnings or [], stage_s={},
    )


def test_rows_prefer_the_measured_latency(tmp_path: Path) -> None:
    (measured,) = chosen_rows([_report(tmp_path, 2.1)])
    (predicted,) = chosen_rows([_report(tmp_path, None)])
    assert measured.latency_ms == 2.1 and predicted.latency_ms == 1.9


def test_table_and_markdown_show_every_figure_and_the_whole_arch(tmp_path: Path) -> None:
    rows = chosen_rows([_report(tmp_path, 2.1)])
    markdown = summary_markdown(rows)
    assert "| dev | dev-2ms | 2.000 | 2.100 | 12.3 | 0.500 | 0.450 | " + ARCH + " |" in markdown
    console = Console(record=True, width=100)
    render_summary(_result(rows), console)
    text = console.export_text()
    assert "r1" in text and "12.3" in text and "0.450" in text
    assert ARCH.replace("\n", "") in "".join(line.split("│")[-2].strip() for line in text.splitlines() if "│" in line)


def test_baselines_sit_under_their_devices_subnets_with_test_accuracy(tmp_path: Path) -> None:
    baseline = make_baseline_result("resnet18", 0.7, {"dev": 3.5}).model_copy(update={"test_accuracy": 0.66})
    elsewhere = make_baseline_result("only-other", 0.7, {"other": 1.0})
    results = [BaselineRecord.of(b, b.save(tmp_path / f"{b.model}.json")) for b in (baseline, elsewhere)]
    rows = with_baselines(chosen_rows([_report(tmp_path, 2.1)]), results)
    assert [r.model for r in rows] == ["dev-2ms", "baseline resnet18"]  # not measured on "dev": left out
    assert "| dev | baseline resnet18 | - | 3.500 | 0.0 | 0.700 | 0.660 | - |" in summary_markdown(rows)


def test_closing_lines_name_the_warnings_and_the_report() -> None:
    console = Console(record=True, width=200)
    render_summary(_result([], warnings=["the supernet was still learning"]), console)
    text = console.export_text()
    assert "too short to trust: the supernet was still learning" in text and "report: /x/index.html" in text
