"""The train stage through a real Prefect server: metrics, plot and checkpoint land in MLflow."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

pytestmark = [pytest.mark.servers, pytest.mark.slow]


def test_train_flow_tracks_and_caches(tmp_path: Path, prefect_api: str, sqlite_tracking: str) -> None:
    from flows.stages import train_flow

    overrides = [
        f"data.output_dir={tmp_path / 'data'}",
        f"training.output_dir={tmp_path / 'supernet'}",
        "training.epochs=1",
        "training.warmup_epochs=0",
        "training.max_steps_per_epoch=2",
        "training.batch_size=32",
        "training.probes_per_level=0",
        "training.bn_calib_batches=1",
        "sampling.num_levels=2",
        "sampling.pool_size=20",
        "tracking.experiment=train-test",
    ]
    first = train_flow("quickstart", overrides)
    assert Path(first.checkpoint).exists()

    mlflow.set_tracking_uri(sqlite_tracking)
    client = MlflowClient()
    run = client.get_run(first.mlflow_run_id)
    assert run.data.params["sampling.strategy"] == "performance"
    assert any(k.startswith("step/") for k in run.data.metrics)
    assert any(k.startswith("final/") for k in run.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"accuracy_vs_macs.png", "supernet", "train_result.json"} <= artifacts
    history = client.get_metric_history(run.info.run_id, "step/loss")
    assert [m.step for m in history] == [1, 2]

    second = train_flow("quickstart", overrides)
    assert second.mlflow_run_id == first.mlflow_run_id  # cached: nothing retrained
