"""The records stages and flows hand on (tasks/records.py): each survives JSON (flow parameters, CLI
output) and pickle (Prefect's persisted results) unchanged, refuses unknown fields and edits, and a
change of their shape changes every cache key."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from prefect.serializers import PickleSerializer
from pydantic import ValidationError

from tasks import caching, records as records_module
from tasks.records import (
    BaselineRecord,
    ChosenBudget,
    ComparisonRecord,
    DeviceResult,
    ExportRecord,
    LatencyResult,
    LatencyTableRecord,
    LatencyValidation,
    OnboardResult,
    PipelineResult,
    PreparedData,
    Record,
    ReportRecord,
    SearchRecord,
    SummaryRow,
    SupernetRecord,
    TimingRecord,
)
from tests.test_baselines import make_baseline_result

DEVICE = "torch-cpu-1t"
ROOT = "/work/artifacts/quickstart"


def _records(tmp_path: Path) -> list[Record]:
    """One of each record, with the values a quickstart run gives them (None where they may be None)."""
    table_file = tmp_path / "latency" / DEVICE / "table.json"
    table_file.parent.mkdir(parents=True)
    table_file.write_text('{"entries": {}}')
    data = PreparedData(data_dir=f"{ROOT}/data", data_version="3f9c2a71d0b4e865", num_classes=10,
                        mlflow_run_id="6b1f0c3e9a2d4f7b8c5e1a0d3b2c4e6f")
    trained = SupernetRecord.of(Path(f"{ROOT}/supernet/supernet.pt"), "ab" * 32,
                                {"smallest": 0.412, "largest": 0.587}, "0d2e4c6a8b1f3e5d7c9a0b2d4f6e8a1c", 812.4)
    on_disk = SupernetRecord.of(Path(f"{ROOT}/supernet/supernet.pt"), "ab" * 32, {"largest": 0.587})
    table = LatencyTableRecord.of(DEVICE, table_file, "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b")
    validation = LatencyValidation(within_10pct=0.93, rmse_ms=0.041, summary="93 % within 10 %, RMSE 0.041 ms",
                                   noise_warning=None)
    search = SearchRecord(device=DEVICE, result=f"{ROOT}/search/{DEVICE}/result.json", mlflow_run_id="s1",
                          budgets=[ChosenBudget(budget_ms=2.5, arch_id="r32-s16:k5-e3-d2", val_accuracy=0.61, mlflow_run_id="b1"),
                                   ChosenBudget(budget_ms=5.0, arch_id="r32-s24:k3-e4-d3", val_accuracy=0.68)])
    export = ExportRecord(device=DEVICE, exports=f"{ROOT}/export/{DEVICE}/exports.json", mlflow_run_id="x1",
                          registered_model=f"quickstart-{DEVICE}", versions=["1", "2"],
                          test_accuracy={f"{DEVICE}-2.5ms": 0.6, f"{DEVICE}-5ms": 0.66})
    baseline = make_baseline_result("resnet10t", 0.64, {DEVICE: 3.2})
    trained_baseline = BaselineRecord.of(baseline, Path(f"{ROOT}/baselines/models/resnet10t/result.json"), "b1")
    timed_baseline = BaselineRecord.of(baseline, Path(f"{ROOT}/baselines/models/resnet10t/result.json"))
    comparison = ComparisonRecord(comparison=f"{ROOT}/baselines/comparison/comparison.json", mlflow_run_id="c1")
    report = ReportRecord(report=f"{ROOT}/report/index.html", warnings=["the supernet was still learning"],
                          mlflow_run_id="p0")
    subnet_row = SummaryRow(device=DEVICE, model=f"{DEVICE}-2.5ms", budget_ms=2.5, arch_id="r32-s16:k5-e3-d2",
                            macs=12_300_000, latency_ms=2.41, val_acc=0.61, test_acc=0.6)
    baseline_row = SummaryRow(device=DEVICE, model="baseline resnet10t", budget_ms=None, arch_id="-", macs=10_000,
                              latency_ms=3.2, val_acc=0.64, test_acc=None)
    latency = LatencyResult(table=table, validation=validation)
    timing = TimingRecord(device=DEVICE, timing=f"{ROOT}/search/{DEVICE}/timing.json", mlflow_run_id="t1", timing_s=12.5)
    device = DeviceResult(device=DEVICE, search=search, timing=timing, export=export)
    pipeline = PipelineResult(
        mlflow_run_id="p0", mlflow_runs_url="http://127.0.0.1:5000/#/experiments/1/runs", data=data,
        supernet=trained, latency={DEVICE: latency}, chosen=[subnet_row], baselines=[trained_baseline],
        comparison=comparison, report=report.report, warnings=report.warnings,
        stage_s={"prepare": 1.2, "train": 812.9, "latency": 95.0, "search": 140.3, "baselines": 300.1},
    )
    onboard = OnboardResult(device=DEVICE, rows=[subnet_row, baseline_row], search=search, export=export,
                            baselines=[timed_baseline], comparison=None, stage_s={"latency": 60.0}, onboard_s=201.5)
    return [data, trained, on_disk, table, validation, search, timing, export, trained_baseline, timed_baseline, comparison,
            report, subnet_row, baseline_row, latency, device, pipeline, onboard]


def test_every_record_round_trips_through_json_and_pickle(tmp_path: Path) -> None:
    records = _records(tmp_path)
    defined = {cls for cls in vars(records_module).values()
               if isinstance(cls, type) and issubclass(cls, Record) and cls is not Record}
    assert {type(r) for r in records} | {ChosenBudget} == defined  # none left untested
    serializer = PickleSerializer()  # what Prefect persists a cached task's result with
    for record in records:
        assert type(record).model_validate_json(record.model_dump_json(indent=2)) == record
        assert pickle.loads(pickle.dumps(record)) == record
        assert serializer.loads(serializer.dumps(record)) == record


def test_records_build_from_what_the_tasks_have(tmp_path: Path) -> None:
    from elasticvit.utils.hashing import sha256_file

    records = {type(r): r for r in _records(tmp_path)}
    table = records[LatencyTableRecord]
    assert table.table == str((tmp_path / "latency" / DEVICE / "table.json").resolve())
    assert table.table_sha256 == sha256_file(table.table)
    baseline = records[BaselineRecord]
    assert baseline.model == "resnet10t" and baseline.latency_ms == {DEVICE: 3.2} and baseline.val_accuracy == 0.64
    on_disk = SupernetRecord.of(Path("s.pt"), "h", {})
    assert on_disk.mlflow_run_id is None and on_disk.wall_time_s is None


def test_a_record_refuses_unknown_fields_and_edits() -> None:
    with pytest.raises(ValidationError):
        PreparedData(data_dir="d", data_version="v", num_classes=10, mlflow_run_id="r", data_versoin="v")
    data = PreparedData(data_dir="d", data_version="v", num_classes=10, mlflow_run_id="r")
    with pytest.raises(ValidationError):
        data.data_version = "w"  # type: ignore[misc]


def test_the_records_version_is_part_of_every_cache_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key = caching.input_key("prepare", {"data": 1})
    assert key.startswith("prepare-") and key == caching.input_key("prepare", {"data": 1})
    monkeypatch.setattr(caching, "RECORDS_VERSION", caching.RECORDS_VERSION + 1)
    assert caching.input_key("prepare", {"data": 1}) != key  # a result stored in another shape is a miss
