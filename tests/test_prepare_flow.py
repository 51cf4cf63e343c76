"""The prepare stage through a real Prefect server, recorded in a real (SQLite) MLflow store."""

from __future__ import annotations

import pickle
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.servers


def _overrides(tmp_path: Path) -> list[str]:
    return [
        f"data.output_dir={tmp_path / 'data'}",
        "data.resolution=16",
        "tracking.experiment=prepare-test",
    ]


def test_prepare_flow_records_and_caches(tmp_path: Path, prefect_api: str, sqlite_tracking: str) -> None:
    from prefect.client.orchestration import get_client

    from flows.stages import prepare_flow

    first = prepare_flow("quickstart", _overrides(tmp_path))
    # the flow's record as the CLI prints it and as Prefect pickles it
    assert type(first).model_validate_json(first.model_dump_json(indent=2)) == first
    assert pickle.loads(pickle.dumps(first)) == first
    manifest = tmp_path / "data" / "manifest.json"
    assert manifest.exists()
    stamp = manifest.stat().st_mtime_ns

    mlflow.set_tracking_uri(sqlite_tracking)
    client = MlflowClient()
    run = client.get_run(first.mlflow_run_id)
    assert run.data.params["data.source"] == "digits"
    assert run.data.tags["data_version"] == first.data_version
    assert run.data.metrics["train_images"] > 0
    assert "manifest.json" in [a.path for a in client.list_artifacts(run.info.run_id)]

    second = prepare_flow("quickstart", _overrides(tmp_path))
    assert second == first  # cached (persisted by Prefect, read back): same run id, nothing recomputed
    assert manifest.stat().st_mtime_ns == stamp
    experiment = client.get_experiment_by_name("prepare-test")
    assert len(client.search_runs([experiment.experiment_id])) == 1

    import asyncio

    async def _artifact_keys() -> list[str]:
        async with get_client() as prefect:
            return [a.key for a in await prefect.read_artifacts()]

    assert "prepare-mlflow-run" in asyncio.run(_artifact_keys())


def test_prepare_reruns_when_outputs_were_deleted(tmp_path: Path, prefect_api: str, sqlite_tracking: str) -> None:
    import shutil

    from flows.stages import prepare_flow

    first = prepare_flow("quickstart", _overrides(tmp_path))
    shutil.rmtree(tmp_path / "data")
    second = prepare_flow("quickstart", _overrides(tmp_path))
    assert (tmp_path / "data" / "manifest.json").exists()
    assert second.mlflow_run_id != first.mlflow_run_id
    assert second.data_version == first.data_version
