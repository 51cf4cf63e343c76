"""Prefect task for the ``export`` stage: export a device's chosen subnets and register each in MLflow.

Every exported subnet becomes a version of the registered model ``<config name>-<device>`` (the
device's name, kept apart per experiment config), tagged with its arch, budget, latency, accuracy,
supernet run and data version, so the registry lists devices and budgets side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import mlflow.onnx
import onnx
from mlflow.entities.model_registry import ModelVersion
from prefect import task
from prefect.context import TaskRunContext

from elasticvit.config import ExperimentConfig
from elasticvit.export import ExportedModel, run_export
from tasks.caching import input_key
from tasks.tracking import stage_run


def registered_model_name(cfg: ExperimentConfig, device: str) -> str:
    return f"{cfg.name}-{device}"


def _cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    # parent_run_id is left out: where the run is filed does not change the exports
    cfg: ExperimentConfig = parameters["cfg"]
    device = parameters["device"]
    inputs = {
        "device": device,
        "search": cfg.search.model_dump(mode="json"),
        "search_run": parameters["search"]["mlflow_run_id"],
        "supernet": parameters["supernet"]["supernet_sha256"],
        "data_version": parameters["data"]["data_version"],
    }
    return input_key(f"export-{device}", {**inputs, "out": str(export_marker(cfg, device))})


def export_marker(cfg: ExperimentConfig, device: str) -> Path:
    return (Path(cfg.search.export_dir) / device / "exports.json").resolve()


@task(name="export-device", cache_key_fn=_cache_key, persist_result=True, retries=1, retry_delay_seconds=10)
def export_device(
    cfg: ExperimentConfig,
    device: str,
    data: dict[str, Any],
    supernet: dict[str, Any],
    search: dict[str, Any],
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """Export, score on test and register every subnet chosen for ``device``."""
    tags = {"device": device, "data_version": data["data_version"], "supernet_run_id": supernet["mlflow_run_id"]}
    with stage_run(cfg, "export", parent_run_id=parent_run_id, run_name=f"export-{device}", tags=tags) as run:
        report = run_export(cfg, device, supernet_path=supernet["checkpoint"], data_dir=data["data_dir"],
                            supernet_run_id=supernet["mlflow_run_id"])
        mlflow.log_artifact(str(export_marker(cfg, device)), artifact_path="export")
        versions = [register(cfg, model, supernet["mlflow_run_id"], data["data_version"]) for model in report.models]
    return {
        "device": device,
        "exports": str(export_marker(cfg, device)),
        "mlflow_run_id": run.info.run_id,
        "registered_model": registered_model_name(cfg, device),
        "versions": [v.version for v in versions],
        "test_accuracy": {m.name: m.test_accuracy for m in report.models},
    }


def register(cfg: ExperimentConfig, model: ExportedModel, supernet_run_id: str, data_version: str) -> ModelVersion:
    """Log one exported subnet (ONNX flavour, with its checkpoint and card) and register it as a
    version of the device's model; the version's tags are what the registry UI compares."""
    with mlflow.start_run(run_name=model.name, nested=True, tags={"stage": "export-model", "arch_id": model.arch_id}):
        mlflow.log_metrics({
            "test_accuracy": model.test_accuracy, "val_accuracy": model.val_accuracy,
            "onnx_max_abs_diff": model.onnx_max_abs_diff, "predicted_ms": model.predicted_ms,
        })
        info = mlflow.onnx.log_model(
            onnx.load(str(model.onnx)), name="model",
            extra_files=[str(model.checkpoint), str(model.card), str(model.card.with_suffix(".json"))],
        )
    tags = {
        "arch_id": model.arch_id,
        "device": model.device,
        "budget_ms": f"{model.budget_ms:.4f}",
        "latency_predicted_ms": f"{model.predicted_ms:.4f}",
        "latency_measured_ms": "" if model.measured_ms is None else f"{model.measured_ms:.4f}",
        "val_accuracy": f"{model.val_accuracy:.4f}",
        "test_accuracy": f"{model.test_accuracy:.4f}",
        "supernet_run_id": supernet_run_id,
        "data_version": data_version,
    }
    return mlflow.register_model(info.model_uri, registered_model_name(cfg, model.device), tags=tags)
