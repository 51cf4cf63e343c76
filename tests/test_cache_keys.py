"""Every stage's cache key covers the content it depends on: an edit re-runs the stage."""

from __future__ import annotations

from pathlib import Path

from elasticvit.config import load_config
from tasks.baselines import _baseline_cache_key
from tasks.latency import _table_cache_key
from tasks.records import LatencyTableRecord, PreparedData, SupernetRecord
from tasks.search import _cache_key as search_key
from tasks.train import _cache_key as train_key

DATA = PreparedData(data_dir="/data", data_version="v1", num_classes=10, mlflow_run_id="r")


def _supernet(sha: str) -> SupernetRecord:
    return SupernetRecord(checkpoint="/supernet/supernet.pt", supernet_sha256=sha, final_metrics={})


def _table(sha: str) -> LatencyTableRecord:
    return LatencyTableRecord(device="torch-cpu-1t", table="/latency/torch-cpu-1t/table.json", table_sha256=sha)


def _space_file(tmp: Path) -> Path:
    path = tmp / "space.yaml"
    path.write_text((Path(__file__).resolve().parents[1] / "elasticvit" / "configs" / "spaces" / "digits.yaml").read_text())
    return path


def test_editing_the_space_file_changes_the_train_and_table_keys(tmp_path: Path) -> None:
    space = _space_file(tmp_path)
    cfg = load_config("quickstart", [f"space.name={space}", f"training.output_dir={tmp_path / 's'}"])
    before = (train_key(None, {"cfg": cfg, "data": DATA}),
              _table_cache_key(None, {"cfg": cfg, "device": "torch-cpu-1t", "num_classes": 10}))
    assert before == (train_key(None, {"cfg": cfg, "data": DATA}),
                      _table_cache_key(None, {"cfg": cfg, "device": "torch-cpu-1t", "num_classes": 10}))
    # same name, same path, one block more in the first stage
    text = space.read_text()
    space.write_text(text.replace("depths: {min: 1, max: 2}", "depths: {min: 1, max: 3}", 1))
    assert space.read_text() != text
    after = (train_key(None, {"cfg": cfg, "data": DATA}),
             _table_cache_key(None, {"cfg": cfg, "device": "torch-cpu-1t", "num_classes": 10}))
    assert after[0] != before[0] and after[1] != before[1]


def test_a_changed_teacher_file_or_data_changes_the_train_key(tmp_path: Path) -> None:
    teacher = tmp_path / "teacher.pt"
    teacher.write_bytes(b"one")
    cfg = load_config("quickstart", [f"training.teacher={teacher}"])
    key = train_key(None, {"cfg": cfg, "data": DATA})
    teacher.write_bytes(b"two")
    assert train_key(None, {"cfg": cfg, "data": DATA}) != key
    assert train_key(None, {"cfg": cfg, "data": DATA.model_copy(update={"data_version": "v2"})}) != train_key(
        None, {"cfg": cfg, "data": DATA})


def test_the_search_key_covers_the_table_supernet_and_settings(tmp_path: Path) -> None:
    cfg = load_config("quickstart")
    params = {"cfg": cfg, "device": "torch-cpu-1t", "data": DATA, "supernet": _supernet("a"),
              "table": _table("t")}
    key = search_key(None, params)
    assert search_key(None, {**params, "table": _table("u")}) != key
    assert search_key(None, {**params, "supernet": _supernet("b")}) != key
    assert search_key(None, {**params, "cfg": load_config("quickstart", ["search.population=9"])}) != key


def test_a_device_s_calibration_count_re_collects_its_table_but_retrains_no_baseline(tmp_path: Path) -> None:
    device = tmp_path / "onnx-cpu-1t.yaml"
    shipped = (Path(__file__).resolve().parents[1] / "elasticvit" / "configs" / "devices" / "onnx-cpu-1t.yaml").read_text()
    cfg = load_config("quickstart", [f"latency.devices=[{device}]"])

    def keys(count: int) -> tuple[str, str]:
        device.write_text(shipped.replace("calibration_archs: 60", f"calibration_archs: {count}"))
        params = {"cfg": cfg, "model": "resnet18", "data_version": "v1", "supernet_wall_s": 100.0}
        return (_table_cache_key(None, {"cfg": cfg, "device": str(device), "num_classes": 10}),
                _baseline_cache_key(None, params))

    (table_60, baseline_60), (table_90, baseline_90) = keys(60), keys(90)
    assert table_60 != table_90 and baseline_60 == baseline_90
