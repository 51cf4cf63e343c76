"""Prefect task for the ``export`` stage: export a device's chosen subnets and register each in MLflow.

Every exported arch becomes a version of the registered model ``<config name>-<device>`` (the
device's name, kept apart per experiment config), tagged with its arch, the budgets it serves,
latency, accuracy, supernet run and data version, so the registry lists devices and budgets side
by side; its run logs the same metric names as the baselines' per-device runs.
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
from elasticvit.config.io import config_hash
from elasticvit.export import ExportedModel, run_export
from elasticvit.layout import exports_path
from tasks.caching import input_key
from tasks.records import ExportRecord, PreparedData, SearchRecord, SupernetRecord
from tasks.retries import retry_unless_bad_input
from tasks.tracking import common_tags, comparable_metrics, stage_run


def registered_model_name(cfg: ExperimentConfig, device: str) -> str:
    return f"{cfg.name}-{device}"


def _cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    # parent_run_id is left out: where the run is filed does not change the exports
    cfg: ExperimentConfig = parameters["cfg"]
    device = parameters["device"]
    inputs = {
        "device": device,
        "search": cfg.search.model_dump(mode="json"),
        "search_run": parameters["search"].mlflow_run_id,
        "supernet": parameters["supernet"].supernet_sha256,
        "data_version": parameters["data"].data_version,
    }
    return input_key(f"export-{device}", {**inputs, "out": str(export_marker(cfg, device))})


def export_marker(cfg: ExperimentConfig, device: str) -> Path:
    return exports_path(cfg.search, device).resolve()


@task(
    name="export-device", cache_key_fn=_cache_key, persist_result=True, retries=1, retry_delay_seconds=10,
    retry_condition_fn=retry_unless_bad_input,
)
def export_device(
    cfg: ExperimentConfig,
    device: str,
    data: PreparedData,
    supernet: SupernetRecord,
    search: SearchRecord,
    parent_run_id: str | None = None,
) -> ExportRecord:
    """Export, score on test and register every subnet chosen for ``device``."""
    tags = {"device": device, "data_version": data.data_version, "supernet_run_id": supernet.mlflow_run_id}
    with stage_run(cfg, "export", parent_run_id=parent_run_id, run_name=f"export-{device}", tags=tags) as run:
        report = run_export(cfg, device, supernet_path=supernet.checkpoint, data_dir=data.data_dir,
                            supernet_run_id=supernet.mlflow_run_id)
        mlflow.log_artifact(str(export_marker(cfg, device)), artifact_path="export")
        versions = [register(cfg, same, supernet.mlflow_run_id, data.data_version)
                    for same in by_arch(report.models)]
    return ExportRecord(
        device=device,
        exports=str(export_marker(cfg, device)),
        mlflow_run_id=run.info.run_id,
        registered_model=registered_model_name(cfg, device),
        # MLflow's own type for a version; a SQL store hands back an int
        versions=[str(v.version) for v in versions],
        test_accuracy={m.name: m.test_accuracy for m in report.models},
    )


def by_arch(models: list[ExportedModel]) -> list[list[ExportedModel]]:
    """The exports grouped by arch, tightest budget first: one arch chosen for several budgets is
    one model, registered once."""
    groups: dict[str, list[ExportedModel]] = {}
    for model in sorted(models, key=lambda m: m.budget_ms):
        groups.setdefault(model.arch_id, []).append(model)
    return list(groups.values())


def register(
    cfg: ExperimentConfig, same: list[ExportedModel], supernet_run_id: str | None, data_version: str
) -> ModelVersion:
    """Log one exported subnet (ONNX flavour, with its checkpoint and card) in a run of its own and
    register it as a version of the device's model, tagged with every budget it serves.

    The run's metrics carry the names the per-device baseline runs use (``COMPARABLE_METRICS``;
    ``latency_ms`` is the device's measurement when the search timed it, else the table's
    prediction); the version's tags are what the registry UI compares.
    """
    model = same[0]
    budgets = ",".join(f"{m.budget_ms:.4f}" for m in same)
    latency = model.measured_ms if model.measured_ms is not None else model.predicted_ms
    tags = {
        "kind": "subnet",
        "arch_id": model.arch_id,
        "device": model.device,
        "budget_ms": f"{model.budget_ms:.4f}",
        "budgets_ms": budgets,
        "latency_predicted_ms": f"{model.predicted_ms:.4f}",
        "latency_measured_ms": "" if model.measured_ms is None else f"{model.measured_ms:.4f}",
        "val_accuracy": f"{model.val_accuracy:.4f}",
        "test_accuracy": f"{model.test_accuracy:.4f}",
        "supernet_run_id": supernet_run_id,
        "data_version": data_version,
    }
    with mlflow.start_run(run_name=model.name, nested=True, tags=common_tags(cfg, "export-model", tags)):
        mlflow.log_metrics({
            **comparable_metrics(model.test_accuracy, model.val_accuracy, latency, model.macs, model.params),
            "latency_predicted_ms": model.predicted_ms, "onnx_max_abs_diff": model.onnx_max_abs_diff,
        })
        info = mlflow.onnx.log_model(
            onnx.load(str(model.onnx)), name="model",
            extra_files=[str(model.checkpoint), str(model.card), str(model.card.with_suffix(".json"))],
            # the flavour's own pinned requirements: inferring them loads the model again in a
            # subprocess, which took minutes per model on a loaded 2-core machine
            pip_requirements=mlflow.onnx.get_default_pip_requirements(),
        )
    return mlflow.register_model(info.model_uri, registered_model_name(cfg, model.device),
                                 tags={**tags, "config_hash": config_hash(cfg)})
