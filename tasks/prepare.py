"""Prefect task for the ``prepare`` stage: build the dataset splits and record them in MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
from prefect import task
from prefect.context import TaskRunContext

from elasticvit.config import ExperimentConfig
from elasticvit.data import prepare_dataset
from elasticvit.data.sources import source_digest
from elasticvit.layout import MANIFEST_NAME, manifest_path
from tasks.caching import input_key
from tasks.records import PreparedData
from tasks.retries import retry_unless_bad_input
from tasks.tracking import log_flat_params, stage_run


def prepare_marker(cfg: ExperimentConfig) -> Path:
    return manifest_path(cfg.data.output_dir).resolve()


def _cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    cfg: ExperimentConfig = parameters["cfg"]
    # The source digest makes a changed npz file or image folder at the same path a cache miss.
    inputs = {"data": cfg.data.model_dump(mode="json"), "source": source_digest(cfg.data), "out": str(prepare_marker(cfg))}
    return input_key("prepare", inputs)


@task(
    name="prepare-data", cache_key_fn=_cache_key, persist_result=True, retries=2, retry_delay_seconds=5,
    retry_condition_fn=retry_unless_bad_input,
)
def prepare_data(cfg: ExperimentConfig, parent_run_id: str | None = None) -> PreparedData:
    """Prepare the splits; return the data directory, its version and the MLflow run id."""
    with stage_run(cfg, "prepare", parent_run_id=parent_run_id) as run:
        manifest = prepare_dataset(cfg.data)
        log_flat_params("data", cfg.data)
        mlflow.log_dict(manifest.model_dump(mode="json"), MANIFEST_NAME)
        for split, per_class in manifest.counts.items():
            mlflow.log_metric(f"{split}_images", sum(per_class.values()))
        mlflow.set_tag("data_version", manifest.version)
    return PreparedData(
        data_dir=str(Path(cfg.data.output_dir).resolve()),
        data_version=manifest.version,
        num_classes=manifest.num_classes,
        mlflow_run_id=run.info.run_id,
    )
