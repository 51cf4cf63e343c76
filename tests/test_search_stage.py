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


def _search_copy(stage_root: Path, tmp_path: Path, *overrides: str) -> tuple[ExperimentConfig, DeviceSearchResult]:
    """The first device's search result (searched once per module) copied into a config writing under ``tmp_path``."""
    if not (stage_root / "search" / DEVICES[0] / "result.json").exists():
        run_search(_config(stage_root), DEVICES[0])
    search = DeviceSearchResult.load(stage_root / "search" / DEVICES[0] / "result.json")
    cfg = load_config("quickstart", [*_overrides(stage_root), f"search.output_dir={tmp_path / 'search'}",
                                     f"search.export_dir={tmp_path / 'export'}", *overrides])
    search.save(tmp_path / "search" / DEVICES[0] / "result.json")
    return cfg, search


@pytest.mark.slow
def test_a_failed_budget_leaves_the_previous_export_whole(stage_root: Path, tmp_path: Path) -> None:
    cfg, search = _search_copy(stage_root, tmp_path)
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
def test_the_interleaved_timing_sets_the_exported_latency(stage_root: Path, tmp_path: Path) -> None:
    from elasticvit.baselines import BaselineResult, Budget, TrainStats, create_baseline
    from elasticvit.baselines.interleaved import InterleavedTiming, time_front
    from elasticvit.layout import timing_path

    cfg, search = _search_copy(stage_root, tmp_path, "search.timed_front=2")
    torch.save({"state_dict": create_baseline("resnet10t", 10).state_dict()}, tmp_path / "resnet10t.pt")
    baseline = BaselineResult(
        model="resnet10t", num_classes=10, resolution=16, params=1, macs=1, budget=Budget(epochs=1),
        train=TrainStats(steps=1, epochs=1.0, train_s=1.0, images_per_s=1.0, final_lr=0.0), val_accuracy=0.5,
        val_loss=1.0, test_accuracy=0.5, test_loss=1.0, latency={}, statistic="median", weights=tmp_path / "resnet10t.pt")
    supernet = stage_root / "supernet" / SUPERNET_NAME

    timing = time_front(cfg, search, supernet, [baseline])
    chosen = list(dict.fromkeys(b.arch_id for b in search.budgets))
    kinds = [(m.name, m.kind) for m in timing.models]
    # the chosen subnets first, then at most timed_front more of the front, the baseline last
    assert kinds[:len(chosen)] == [(a, "chosen") for a in chosen] and kinds[-1] == ("resnet10t", "baseline")
    assert 0 <= len(kinds) - len(chosen) - 1 <= 2
    assert all(m.measured_ms > 0 for m in timing.models)
    assert all((m.predicted_ms is None) == (m.kind == "baseline") for m in timing.models)
    assert timing.covers(search) and InterleavedTiming.load(timing.save(timing_path(cfg.search, DEVICES[0]))) == timing

    exported = run_export(cfg, DEVICES[0])
    for model in exported.models:
        assert model.measured_ms == timing.measured_ms(model.arch_id)
        assert f"{model.measured_ms:.3f}" in model.card.read_text()
    # a timing of another supernet is stale: the export keeps the search's own measurement
    timing.model_copy(update={"supernet": "0" * 64}).save(timing_path(cfg.search, DEVICES[0]))
    exported = run_export(cfg, DEVICES[0])
    assert [m.measured_ms for m in exported.models] == [b.measured_ms for b in search.budgets]
    with pytest.raises(ValueError, match="not the supernet the search"):
        time_front(cfg, search.model_copy(update={"supernet": "0" * 64}), supernet)


@pytest.mark.slow
def test_tasks_nest_runs_and_register_every_export(stage_root: Path, sqlite_tracking: str, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from elasticvit.config.io import config_hash
    from elasticvit.utils.hashing import sha256_file
    from flows.mlflow_runs import COMPARED_RUNS, open_parent_run
    from tasks.export import export_device, register, registered_model_name
    from tasks.records import LatencyTableRecord, PreparedData, SupernetRecord
    from tasks.search import search_device
    from tasks.tracking import COMPARABLE_METRICS, stage_run

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
    report = ExportReport.load(exported.exports)
    by_budget = {f"{m.budget_ms:.4f}": m for m in report.models}

    # one run per (device, budget) subnet: the search's child run, completed by the export
    subnets = client.search_runs([experiment], f"tags.kind = 'subnet' and tags.device = '{device}'")
    assert len(subnets) == len(searched.budgets) == len(report.models)
    assert sorted(r.info.run_id for r in subnets) == sorted(b.mlflow_run_id for b in searched.budgets)
    assert {r.data.tags["mlflow.parentRunId"] for r in subnets} == {search_run.info.run_id}
    assert sorted(r.data.params["budget_ms"] for r in subnets) == sorted(str(b.budget_ms) for b in searched.budgets)
    for r in subnets:
        model = by_budget[r.data.tags["budget_ms"]]
        assert set(COMPARABLE_METRICS) | {"latency_predicted_ms"} <= set(r.data.metrics)
        assert r.data.tags["latency_source"] == "measured" and model.measured_ms is not None
        assert r.data.metrics["latency_ms"] == pytest.approx(model.measured_ms)
        assert r.data.metrics["latency_predicted_ms"] == pytest.approx(model.predicted_ms)
        assert r.data.metrics["test_accuracy"] == pytest.approx(model.test_accuracy)
        assert r.data.metrics["val_accuracy"] == pytest.approx(model.val_accuracy)
        assert r.data.metrics["macs"] == model.macs and r.data.metrics["params"] == model.params
        assert r.data.tags["arch_id"] == model.arch_id and r.data.tags["config_hash"] == config_hash(cfg)
        assert r.data.tags["supernet_run_id"] == "train-run" and r.data.tags["data_version"] == "dv-test"
        assert r.data.tags["registered_model"] == registered_model_name(cfg, device)
        # the figures the search logged are not logged again by the export
        assert len(client.get_metric_history(r.info.run_id, "val_accuracy")) == 1
        # ranked by the loss (the default): the best loss per generation, never rising
        assert cfg.search.rank_by == "loss" and r.data.metrics["val_loss"] > 0
        best = [m.value for m in sorted(client.get_metric_history(r.info.run_id, "best_val_loss"), key=lambda m: m.step)]
        assert 1 <= len(best) <= cfg.search.generations + 1 and best == sorted(best, reverse=True) and best[-1] > 0
    # the export's own run holds the report, not a second run per subnet
    export_children = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{exported.mlflow_run_id}'")
    assert export_children == []

    name = registered_model_name(cfg, device)
    versions = client.search_model_versions(f"name = '{name}'")
    assert sorted(str(v.version) for v in versions) == sorted(exported.versions)
    # an arch chosen for several budgets is one version, tagged with all of them, whose source is
    # the tightest budget's run; every budget's run names the version
    assert len(versions) == len({m.arch_id for m in report.models})
    budgets = {a: ",".join(f"{m.budget_ms:.4f}" for m in sorted(report.models, key=lambda m: m.budget_ms)
                           if m.arch_id == a) for a in {m.arch_id for m in report.models}}
    run_of = {r.data.tags["budget_ms"]: r for r in subnets}
    for v in versions:
        model = by_budget[v.tags["budget_ms"]]
        assert v.tags["budgets_ms"] == budgets[model.arch_id] and v.tags["kind"] == "subnet"
        assert v.tags["arch_id"] == model.arch_id and v.tags["device"] == device
        assert v.tags["config_hash"] == config_hash(cfg)
        assert float(v.tags["latency_predicted_ms"]) == pytest.approx(model.predicted_ms, abs=1e-4)
        assert float(v.tags["test_accuracy"]) == pytest.approx(model.test_accuracy, abs=1e-4)
        assert v.tags["supernet_run_id"] == "train-run" and v.tags["data_version"] == "dv-test"
        assert v.run_id == run_of[v.tags["budget_ms"]].info.run_id
        for budget in v.tags["budgets_ms"].split(","):
            assert run_of[budget].data.tags["registered_version"] == str(v.version)
    # the filter the printed runs table uses finds the same runs
    assert sorted(r.info.run_id for r in client.search_runs(
        [experiment], f"{COMPARED_RUNS} and tags.device = '{device}'")) == sorted(r.info.run_id for r in subnets)

    # one arch serving two budgets, the looser one's run unknown (a tracking store wiped since the
    # search was cached): registered once from the tightest budget's run, a fresh run for the other
    tight = min(report.models, key=lambda m: m.budget_ms)
    loose = tight.model_copy(update={"budget_ms": tight.budget_ms + 50.0, "name": f"{device}-loose"})
    tight_run = run_of[f"{tight.budget_ms:.4f}"].info.run_id
    with stage_run(cfg, "export", parent_run_id=parent):
        version = register(cfg, [tight, loose], {tight.budget_ms: tight_run, loose.budget_ms: "gone"},
                           "train-run", "dv-test")
    assert version.run_id == tight_run
    assert version.tags["budgets_ms"] == f"{tight.budget_ms:.4f},{loose.budget_ms:.4f}"
    fresh = client.search_runs([experiment], f"tags.kind = 'subnet' and tags.budget_ms = '{loose.budget_ms:.4f}'")
    assert len(fresh) == 1 and fresh[0].data.tags["registered_version"] == str(version.version)
    assert set(COMPARABLE_METRICS) | {"latency_predicted_ms"} <= set(fresh[0].data.metrics)
    assert fresh[0].data.tags["config_hash"] == config_hash(cfg) and fresh[0].data.tags["arch_id"] == tight.arch_id


def test_the_runs_link_opens_the_runs_table_of_subnets_and_baselines(monkeypatch: pytest.MonkeyPatch) -> None:
    import re
    from types import SimpleNamespace
    from urllib.parse import parse_qs, urlsplit

    import flows.mlflow_runs as mlflow_runs

    cfg = _config(Path("unused"))
    monkeypatch.setenv("ELASTICVIT_TRACKING_URI", "http://127.0.0.1:5000/")
    monkeypatch.setattr(mlflow_runs, "MlflowClient", lambda: SimpleNamespace(
        get_experiment_by_name=lambda name: SimpleNamespace(experiment_id="7")))

    def opened(url: str) -> tuple[str, dict[str, str]]:
        assert url.startswith("http://127.0.0.1:5000/#/")
        path, _, query = urlsplit(url).fragment.partition("?")
        return path, {k: v[0] for k, v in parse_qs(query).items()}

    path, params = opened(mlflow_runs.runs_url(cfg, device="torch-cpu-1t"))
    assert path == "/experiments/7/runs"
    # MLflow 3 shows an experiment in the browser's last "workflow type" (GenAI by default) unless told
    assert params["workflowType"] == "machine_learning" and params["compareRunsMode"] == "TABLE"
    assert params["searchFilter"] == "tags.latency_source LIKE '%' and tags.device = 'torch-cpu-1t'"
    assert params["orderByKey"] == "metrics.`test_accuracy`" and params["orderByAsc"] == "false"
    # the UI sends a filter on as a query only when it matches this (from MLflow's runs page), else
    # it searches run names for the text
    ui_query = (r"(attribute|attributes|attr|run|metric|metrics|param|params|parameter|tag|tags|dataset|datasets"
                r"|model|models)\.\S+\s*(>|<|>=|<=|=|!=| like| ilike| rlike| in)")
    _, every_device = opened(mlflow_runs.runs_url(cfg))
    assert re.search(ui_query, every_device["searchFilter"], re.I) and "device" not in every_device["searchFilter"]
    assert mlflow_runs.runs_url(cfg, "abc").endswith("/#/experiments/7/runs/abc?workflowType=machine_learning")
    monkeypatch.setenv("ELASTICVIT_TRACKING_URI", "sqlite:///mlflow.db")
    assert mlflow_runs.runs_url(cfg) is None


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
