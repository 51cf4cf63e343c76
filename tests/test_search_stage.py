"""The search and export stages on a real (untrained) supernet, prepared digits and synthetic tables.

Nothing is timed for tables (their entries are made up from block MACs, per device), but every
accuracy is a real BN-recalibrated val pass, every chosen subnet is timed on its backend, and the
exports are real ONNX files and checkpoints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from elasticvit.config import ExperimentConfig, load_config
from elasticvit.data import load_split, prepare_dataset
from elasticvit.export.evaluate import evaluate_files, load_npz
from elasticvit.export.run import ExportReport, run_export
from elasticvit.latency import LatencyPredictor, LatencyTable, load_device, table_path
from elasticvit.latency.correction import Correction
from elasticvit.latency.lut import BlockEntry, MeasureSettings, make_header
from elasticvit.latency.measure import Measurement
from elasticvit.model import Supernet, load_subnet
from elasticvit.search import InfeasibleBudgetError
from elasticvit.search.driver import DeviceSearchResult
from elasticvit.search.run import run_search
from elasticvit.space import Arch, load_space
from elasticvit.space.specs import space_blocks
from elasticvit.layout import SUPERNET_NAME, device_dir
from elasticvit.training.checkpoint import SupernetMeta, save_supernet
from elasticvit.utils.locking import DirectoryLockedError, exclusive_dir

DEVICES = ("torch-cpu-1t", "onnx-cpu-1t")
# ms per million MACs by block kind: the two devices rank convolutions and attention differently
COST = {
    "torch-cpu-1t": {"transformer": 0.05, "default": 0.02},
    "onnx-cpu-1t": {"transformer": 0.02, "default": 0.03},
}


def _config(root: Path, **search: object) -> ExperimentConfig:
    return load_config("quickstart", [*_overrides(root), *(f"search.{k}={v}" for k, v in search.items())])


def _overrides(root: Path) -> list[str]:
    return [
        f"data.output_dir={root / 'data'}", "data.max_per_class=40", f"training.output_dir={root / 'supernet'}",
        f"latency.output_dir={root / 'latency'}", f"latency.devices=[{', '.join(DEVICES)}]",
        "latency.warmup=1", "latency.repeats=3", "latency.min_time_s=0.0",
        f"search.output_dir={root / 'search'}", f"search.export_dir={root / 'export'}",
        "search.population=4", "search.generations=2", "search.parents=2", "search.mutations=2",
        "search.crossovers=2", "search.val_samples=40", "search.calib_batches=1", "search.calib_batch_size=32",
        "search.budget_fractions=[0.3, 0.6]", "search.threads=1", "sampling.num_levels=2",
    ]


@pytest.fixture(scope="module")
def stage_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prepared digits, an untrained supernet checkpoint and a synthetic table per device."""
    root = tmp_path_factory.mktemp("stage")
    cfg = _config(root)
    prepare_dataset(cfg.data, progress=False)
    space = load_space(cfg.space.name)
    torch.manual_seed(0)
    supernet = Supernet(space, 10)
    meta = SupernetMeta(space=space, num_classes=10, config=cfg, weights="model", steps=0, metrics={})
    save_supernet(Path(cfg.training.output_dir) / SUPERNET_NAME, supernet.state_dict(), meta)
    for device in DEVICES:
        _synthetic_table(space, device).save(table_path(cfg.latency.output_dir, device))
    return root


@pytest.mark.slow
def test_search_two_devices_second_reuses_the_cache(stage_root: Path) -> None:
    cfg = _config(stage_root)
    first = run_search(cfg, DEVICES[0])
    second = run_search(cfg, DEVICES[1])
    assert first.measured > 0
    assert second.cache_hits > 0 and second.measured < first.measured
    space = load_space(cfg.space.name)
    for result in (first, second):
        out = stage_root / "search" / result.device
        assert DeviceSearchResult.load(out / "result.json") == result
        assert (out / "front.png").read_bytes()[:4] == b"\x89PNG"
        predictor = LatencyPredictor.load(table_path(cfg.latency.output_dir, result.device), space)
        for choice in result.budgets:
            arch = Arch.model_validate(choice.arch)
            assert predictor.predict(arch) == pytest.approx(choice.predicted_ms) and choice.predicted_ms <= choice.budget_ms
            assert choice.measured_ms is not None and choice.measured_ms > 0
            assert 0.0 <= choice.val_accuracy <= 1.0
        assert result.provenance["space_hash"] == space.hash


PARALLEL_SEARCH = """
import sys
import torch
torch.set_num_threads(1)
from elasticvit.config import load_config
from elasticvit.search.run import run_search
run_search(load_config("quickstart", sys.argv[2:]), sys.argv[1])
"""


@pytest.mark.slow
def test_two_devices_searched_at_once_write_disjoint_results(stage_root: Path, tmp_path: Path) -> None:
    # two workers, one per device, on the same experiment: each holds only its device's folder
    overrides = [*_overrides(stage_root), f"search.output_dir={tmp_path / 'search'}"]
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    runs = [subprocess.Popen([sys.executable, "-c", PARALLEL_SEARCH, d, *overrides], cwd=root, env=env,
                             stderr=subprocess.PIPE, text=True) for d in DEVICES]
    errors = [run.communicate(timeout=600)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    for device in DEVICES:
        result = DeviceSearchResult.load(tmp_path / "search" / device / "result.json")
        assert result.device == device
        assert sorted(p.name for p in (tmp_path / "search" / device).iterdir()) == ["front.png", "result.json"]


def test_a_second_search_of_one_device_is_refused_at_once(stage_root: Path) -> None:
    cfg = _config(stage_root)
    with exclusive_dir(device_dir(cfg.search, DEVICES[0]), f"search {DEVICES[0]}"):
        with pytest.raises(DirectoryLockedError, match=f"in use by 'search {DEVICES[0]}'"):
            run_search(cfg, DEVICES[0])


def test_impossible_budget_names_the_fastest_latency(stage_root: Path) -> None:
    cfg = _config(stage_root, budgets_ms=f"{{{DEVICES[0]}: [0.001]}}")
    space = load_space(cfg.space.name)
    fastest = LatencyPredictor.load(table_path(cfg.latency.output_dir, DEVICES[0]), space).predict(space.smallest())
    with pytest.raises(InfeasibleBudgetError, match=f"{fastest:.4f} ms"):
        run_search(cfg, DEVICES[0])


@pytest.mark.slow
def test_export_is_faithful_to_the_search(stage_root: Path) -> None:
    cfg = _config(stage_root)
    if not (stage_root / "search" / DEVICES[0] / "result.json").exists():
        run_search(cfg, DEVICES[0])
    report = run_export(cfg, DEVICES[0], supernet_run_id="run-123")
    assert ExportReport.load(stage_root / "export" / DEVICES[0] / "exports.json") == report
    metrics = json.loads((stage_root / "export" / "metrics" / f"{DEVICES[0]}.json").read_text())
    assert {name: m["test_accuracy"] for name, m in metrics.items()} == {m.name: m.test_accuracy for m in report.models}
    search = DeviceSearchResult.load(stage_root / "search" / DEVICES[0] / "result.json")
    assert [m.arch_id for m in report.models] == [b.arch_id for b in search.budgets]
    test_images, test_labels = load_split(stage_root / "data", "test")
    for model in report.models:
        # BN statistics baked into the standalone model reproduce the search's shared-weight score
        assert model.standalone_val_accuracy == pytest.approx(model.val_accuracy, abs=1.5 / 40)
        assert model.onnx_max_abs_diff <= model.onnx_tolerance
        loaded = load_subnet(model.checkpoint)  # weights_only inside
        assert loaded.arch.id == model.arch_id and loaded.extra["device"] == DEVICES[0]
        session = onnxruntime.InferenceSession(str(model.onnx), providers=["CPUExecutionProvider"])
        assert session.get_inputs()[0].shape[-1] == loaded.arch.resolution
        card = model.card.read_text()
        assert all(s in card for s in (model.arch_id, "run-123", report.data_version, *DEVICES))
    # scoring the exported files on an npz reproduces the stage's test accuracy
    npz = stage_root / "test.npz"
    np.savez(npz, images=test_images.numpy(), labels=test_labels.numpy())
    images, labels = load_npz(npz)
    files = [m.checkpoint for m in report.models] + [m.onnx for m in report.models]
    scores = evaluate_files(files, images, labels)
    for model in report.models:
        assert scores[str(model.checkpoint)] == pytest.approx(model.test_accuracy)
        assert scores[str(model.onnx)] == pytest.approx(model.test_accuracy, abs=1 / len(labels) + 1e-9)


@pytest.mark.slow
def test_a_failed_budget_leaves_the_previous_export_whole(stage_root: Path, tmp_path: Path) -> None:
    cfg = _config(stage_root)
    if not (stage_root / "search" / DEVICES[0] / "result.json").exists():
        run_search(cfg, DEVICES[0])
    search = DeviceSearchResult.load(stage_root / "search" / DEVICES[0] / "result.json")
    cfg = load_config("quickstart", [*_overrides(stage_root), f"search.output_dir={tmp_path / 'search'}",
                                     f"search.export_dir={tmp_path / 'export'}"])
    search.save(tmp_path / "search" / DEVICES[0] / "result.json")
    first = run_export(cfg, DEVICES[0])
    out = tmp_path / "export" / DEVICES[0]
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert [p.parent.name for p in (m.checkpoint for m in first.models)] == [m.name for m in first.models]
    # the last budget's arch is not one of the space: its export fails after the others were made
    last = search.budgets[-1]
    broken = last.model_copy(update={"arch": {**last.arch, "resolution": 999}})
    search.model_copy(update={"budgets": [*search.budgets[:-1], broken]}).save(
        tmp_path / "search" / DEVICES[0] / "result.json")
    with pytest.raises(ValueError):
        run_export(cfg, DEVICES[0])
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_tasks_nest_runs_and_register_every_export(stage_root: Path, sqlite_tracking: str, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from elasticvit.config.io import config_hash
    from elasticvit.utils.hashing import sha256_file
    from flows.mlflow_runs import open_parent_run
    from tasks.export import export_device, registered_model_name
    from tasks.records import LatencyTableRecord, PreparedData, SupernetRecord
    from tasks.search import search_device
    from tasks.tracking import COMPARABLE_METRICS

    # a fresh search folder: the task's run must measure, not only read result files
    cfg = _config(stage_root, output_dir=tmp_path / "search", export_dir=tmp_path / "export",
                  cache_path=stage_root / "search" / "evaluations.sqlite")
    device = DEVICES[0]
    parent = open_parent_run(cfg, "pipeline")
    data = PreparedData(data_dir=str(stage_root / "data"), data_version="dv-test", num_classes=10,
                        mlflow_run_id="prep-run")
    checkpoint = Path(cfg.training.output_dir) / SUPERNET_NAME
    supernet = SupernetRecord.of(checkpoint, sha256_file(checkpoint), {}, mlflow_run_id="train-run")
    table = LatencyTableRecord(device=device, table="unused", table_sha256="t")
    searched = search_device.fn(cfg, device, data, supernet, table, parent_run_id=parent)
    exported = export_device.fn(cfg, device, data, supernet, searched, parent_run_id=parent)

    client = MlflowClient(sqlite_tracking)
    search_run = client.get_run(searched.mlflow_run_id)
    assert search_run.data.tags["mlflow.parentRunId"] == parent
    experiment = search_run.info.experiment_id
    # MLflow 3 opens the experiment on its runs table, not its GenAI traces page
    assert client.get_experiment(experiment).tags["mlflow.experimentKind"] == "custom_model_development"
    children = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{search_run.info.run_id}'")
    assert sorted(c.data.params["budget_ms"] for c in children) == sorted(str(b.budget_ms) for b in searched.budgets)
    assert all("val_accuracy" in c.data.metrics and "measured_ms" in c.data.metrics for c in children)

    name = registered_model_name(cfg, device)
    versions = client.search_model_versions(f"name = '{name}'")
    assert sorted(str(v.version) for v in versions) == sorted(exported.versions)
    report = ExportReport.load(exported.exports)
    # an arch chosen for several budgets is one version, tagged with all of them
    assert len(versions) == len({m.arch_id for m in report.models})
    budgets = {a: ",".join(f"{m.budget_ms:.4f}" for m in sorted(report.models, key=lambda m: m.budget_ms)
                           if m.arch_id == a) for a in {m.arch_id for m in report.models}}
    by_budget = {f"{m.budget_ms:.4f}": m for m in report.models}
    for v in versions:
        model = by_budget[v.tags["budget_ms"]]
        assert v.tags["budgets_ms"] == budgets[model.arch_id] and v.tags["kind"] == "subnet"
        assert v.tags["arch_id"] == model.arch_id and v.tags["device"] == device
        assert v.tags["config_hash"] == config_hash(cfg)
        assert float(v.tags["latency_predicted_ms"]) == pytest.approx(model.predicted_ms, abs=1e-4)
        assert float(v.tags["test_accuracy"]) == pytest.approx(model.test_accuracy, abs=1e-4)
        assert v.tags["supernet_run_id"] == "train-run" and v.tags["data_version"] == "dv-test"
    # one run per subnet, with the metric names of the baselines' per-device runs
    subnets = client.search_runs([experiment], f"tags.kind = 'subnet' and tags.device = '{device}'")
    assert sorted(r.data.tags["arch_id"] for r in subnets) == sorted(budgets)
    for r in subnets:
        model = by_budget[r.data.tags["budget_ms"]]
        assert set(COMPARABLE_METRICS) <= set(r.data.metrics)
        assert r.data.metrics["latency_ms"] == pytest.approx(model.measured_ms)
        assert r.data.metrics["test_accuracy"] == pytest.approx(model.test_accuracy)


def _synthetic_table(space, device: str) -> LatencyTable:  # type: ignore[no-untyped-def]
    cost = COST[device]
    entries = {
        s.key: BlockEntry(
            kind=s.kind, input_shape=list(s.input_shape(1)), config=s.model_dump(mode="json"),
            latency=_ms(0.005 + cost.get(s.kind, cost["default"]) * s.macs / 1e6),
        )
        for s in space_blocks(space, 10)
    }
    settings = MeasureSettings(warmup=1, repeats=3, min_time_s=0.0, max_cv=0.1, statistic="median")
    header = make_header(space.name, space.hash, 10, load_device(device), settings, {"torch": torch.__version__})
    return LatencyTable(
        **header.model_dump(), entries=entries, call_overhead=_ms(0.005), overhead_per_block_ms=0.0,
        calibration=[], correction=Correction(scale=1.0, offset_ms=0.0, points=0), collect_s=0.0,
    )


def _ms(value: float) -> Measurement:
    return Measurement(count=3, trimmed=0, attempts=1, median_ms=value, mean_ms=value, std_ms=0.0, min_ms=value, cv=0.0)


def _cli():  # type: ignore[no-untyped-def]
    from cli.main import app

    return app


def test_cli_impossible_budget_exits_2_with_the_reason(stage_root: Path) -> None:
    from typer.testing import CliRunner

    overrides = [a for o in _overrides(stage_root) for a in ("-s", o)]
    bad = CliRunner().invoke(_cli(), ["search", "-d", DEVICES[0], *overrides, "-s", f"search.budgets_ms={{{DEVICES[0]}: [0.001]}}"])
    assert bad.exit_code == 2 and "smallest achievable latency" in bad.output


@pytest.mark.slow
def test_cli_evaluate_scores_exported_models_on_a_users_npz(stage_root: Path) -> None:
    import json

    from typer.testing import CliRunner

    cfg = _config(stage_root)
    report_path = stage_root / "export" / DEVICES[0] / "exports.json"
    if not report_path.exists():
        run_search(cfg, DEVICES[0])
        run_export(cfg, DEVICES[0])
    report = ExportReport.load(report_path)
    images, labels = load_split(stage_root / "data", "test")
    npz = stage_root / "mine.npz"
    np.savez(npz, images=images[:20].numpy(), labels=labels[:20].numpy())
    overrides = [a for o in _overrides(stage_root) for a in ("-s", o)]
    runner = CliRunner()
    out = runner.invoke(_cli(), ["evaluate", "-d", DEVICES[0], *overrides, "--test-data", str(npz)])
    assert out.exit_code == 0, out.output
    scores = json.loads(out.output)
    assert scores["images"] == 20 and set(scores["top1"]) == {m.name for m in report.models}

    missing = runner.invoke(_cli(), ["evaluate", *overrides, "--test-data", str(stage_root / "nope.npz"), str(report.models[0].onnx)])
    assert missing.exit_code == 2 and "nope.npz" in missing.output
