"""Training, timing and tracking a tiny timm baseline on made-up data, for a few steps."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from elasticvit.baselines import BaselineResult, Budget, create_baseline, evaluate, run_baseline
from elasticvit.config import load_config
from elasticvit.config.experiment import DataConfig, ExperimentConfig
from elasticvit.data import InMemoryLoader, load_split, prepare_dataset

MODEL = "resnet10t"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """96 random 16x16 images of 3 classes, prepared by the data stage like any user's npz."""
    root = tmp_path_factory.mktemp("baseline-data")
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 32)
    # class-dependent brightness, so a few steps can learn something
    images = (rng.integers(0, 128, (96, 16, 16, 3)) + 60 * labels[:, None, None, None]).astype(np.uint8)
    np.savez(root / "train.npz", images=images, labels=labels)
    cfg = DataConfig(source="npz", path=root, resolution=16, val_fraction=0.25, test_fraction=0.25,
                     output_dir=root / "prepared")
    prepare_dataset(cfg)
    return cfg.output_dir


def _config(tmp_path: Path, *extra: str) -> ExperimentConfig:
    return load_config(None, [
        "training.batch_size=8", "training.max_steps_per_epoch=2", "training.epochs=2", "training.device=cpu",
        "training.lr=0.01", "latency.devices=[torch-cpu-1t]", "latency.warmup=1", "latency.repeats=3",
        "latency.min_time_s=0", f"baselines.output_dir={tmp_path / 'baselines'}",
        "tracking.experiment=baselines-test", *extra,
    ])


def test_run_baseline_trains_evaluates_and_times(tmp_path: Path, data_dir: Path) -> None:
    cfg = _config(tmp_path)
    result = run_baseline(cfg, MODEL, data_dir, Budget(epochs=2))
    assert (result.train.steps, result.train.epochs) == (4, 2.0)
    assert result.train.final_lr == pytest.approx(cfg.training.lr * 1e-2)  # the cosine ran to its end
    assert result.resolution == 16 and result.num_classes == 3 and result.macs > 0
    assert 0.0 <= result.val_accuracy <= 1.0 and result.test_accuracy is not None
    assert list(result.latency) == ["torch-cpu-1t"] and result.latency_ms("torch-cpu-1t") > 0
    saved = BaselineResult.load(tmp_path / "baselines" / "models" / MODEL / "result.json")
    assert saved == result
    # the saved weights are the trained model: reloading reproduces its val loss
    reloaded = create_baseline(MODEL, 3, checkpoint=result.weights)
    images, labels = load_split(data_dir, "val")
    batches = InMemoryLoader(images, labels, batch_size=256, shuffle=False, augment=False, drop_last=False)
    _, loss = evaluate(reloaded, batches)
    assert loss == pytest.approx(result.val_loss, rel=1e-5)


def test_same_seed_same_weights_and_a_wall_clock_budget_ends_the_schedule(tmp_path: Path, data_dir: Path) -> None:
    cfg = _config(tmp_path, "training.max_steps_per_epoch=1")
    first = run_baseline(cfg, "mobilenetv3_small_050", data_dir, Budget(epochs=1), devices=[])
    second = run_baseline(cfg, "mobilenetv3_small_050", data_dir, Budget(epochs=1), devices=[])
    assert first.val_loss == second.val_loss and first.latency == {}

    timed = run_baseline(cfg, "mobilenetv3_small_050", data_dir, Budget(seconds=0.3), devices=[])
    assert timed.train.train_s >= 0.3 and timed.train.steps >= 1
    assert timed.train.final_lr == pytest.approx(cfg.training.lr * 1e-2)


def test_baseline_task_records_a_tagged_nested_run(tmp_path: Path, data_dir: Path, sqlite_tracking: str) -> None:
    from tasks.baselines import compare_baselines_task, train_baseline_task
    from tasks.tracking import COMPARABLE_METRICS
    from tests.test_baselines import make_search_result

    cfg = _config(tmp_path, "training.max_steps_per_epoch=1", "baselines.epochs=1")
    mlflow.set_tracking_uri(sqlite_tracking)
    client = MlflowClient()
    experiment = client.get_experiment_by_name("baselines-test") or client.get_experiment(
        client.create_experiment("baselines-test")
    )
    parent = client.create_run(experiment.experiment_id, run_name="pipeline").info.run_id

    out = train_baseline_task.fn(cfg, MODEL, str(data_dir), "v1", parent_run_id=parent)
    run = client.get_run(out.mlflow_run_id)
    assert run.info.experiment_id == experiment.experiment_id
    assert run.data.tags["kind"] == "baseline" and run.data.tags["model"] == MODEL
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.data.params["model"] == MODEL and run.data.params["budget"] == "1 epochs"
    assert run.data.metrics["val_accuracy"] == out.val_accuracy
    assert run.data.metrics["latency_ms/torch-cpu-1t"] == out.latency_ms["torch-cpu-1t"]
    assert "val/" + MODEL in run.data.metrics  # per-epoch validation, as the supernet's probes
    # one run per device, under the metric names a subnet's run uses
    per_device = client.search_runs([experiment.experiment_id], "tags.kind = 'baseline' and tags.device = 'torch-cpu-1t'")
    assert len(per_device) == 1 and per_device[0].data.tags["mlflow.parentRunId"] == run.info.run_id
    figures = per_device[0].data.metrics
    assert set(figures) == set(COMPARABLE_METRICS) - ({"test_accuracy"} if "test_accuracy" not in run.data.metrics else set())
    assert figures["latency_ms"] == out.latency_ms["torch-cpu-1t"] and figures["val_accuracy"] == out.val_accuracy
    assert per_device[0].data.tags["latency_source"] == "measured"

    search = make_search_result("torch-cpu-1t").save(tmp_path / "search" / "result.json")
    compared = compare_baselines_task.fn(cfg, [out.result], [str(search)], parent_run_id=parent)
    assert Path(compared.comparison).exists()
    artifacts = [a.path for a in client.list_artifacts(compared.mlflow_run_id, "comparison")]
    assert artifacts == ["comparison/comparison.json", "comparison/comparison.md", "comparison/torch-cpu-1t.png"]


@pytest.mark.servers
@pytest.mark.slow
def test_baseline_commands_run_their_flows_and_the_baseline_is_cached_while_its_result_exists(
    tmp_path: Path, data_dir: Path, prefect_api: str, sqlite_tracking: str
) -> None:
    import re
    import shutil

    from typer.testing import CliRunner

    from cli.main import app
    from elasticvit.config import to_params_yaml
    from elasticvit.layout import search_result_path
    from flows.baselines import baseline_flow
    from tasks.records import BaselineRecord, ComparisonRecord
    from tests.test_baselines import make_search_result

    model = "mobilenetv3_small_050"
    cfg = _config(tmp_path, "training.max_steps_per_epoch=1", "baselines.epochs=1", f"baselines.models=[{model}]",
                  f"data.output_dir={data_dir}", f"search.output_dir={tmp_path / 'search'}")
    config = str(to_params_yaml(cfg, tmp_path / "params.yaml"))

    def printed(args: list[str]) -> str:
        """The record a command prints last (pretty JSON), after whatever Prefect logged."""
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        return re.findall(r"^\{$.*?^\}$", result.stdout, re.M | re.S)[-1]

    first = BaselineRecord.model_validate_json(printed(["baseline", "-c", config, "--model", model]))
    assert first.model == model and first.mlflow_run_id and list(first.latency_ms) == ["torch-cpu-1t"]
    assert baseline_flow(model, config) == first  # same inputs, result on disk: served from the cache
    shutil.rmtree(tmp_path / "baselines" / "models")
    again = baseline_flow(model, config)
    assert again.mlflow_run_id != first.mlflow_run_id  # outputs gone: trained again

    make_search_result("torch-cpu-1t").save(search_result_path(cfg.search, "torch-cpu-1t"))
    compared = ComparisonRecord.model_validate_json(printed(["baseline-compare", "-c", config]))
    assert Path(compared.comparison).exists()
