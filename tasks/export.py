"""Prefect task for the ``export`` stage: export a device's chosen subnets and register each in MLflow.

Each (device, budget) subnet has one MLflow run, opened by the search (``tasks.search``); the export
adds the test accuracy, the ONNX check and (in the tightest budget's run of each distinct arch) the
logged ONNX model to it, so the run holds every figure under the names the baselines' per-device
runs use. Every exported arch becomes a version of the registered model ``<config name>-<device>``
(the device's name, kept apart per experiment config), tagged with its arch, the budgets it serves,
latency, accuracy, supernet run and data version, so the registry lists devices and budgets side
by side.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow
import mlflow.onnx
import onnx
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from prefect import task
from prefect.context import TaskRunContext

from elasticvit.config import ExperimentConfig
from elasticvit.config.io import config_hash
from elasticvit.export import ExportedModel, run_export
from elasticvit.layout import exports_path
from elasticvit.utils.hashing import sha256_file
from tasks.caching import input_key
from tasks.records import ExportRecord, PreparedData, SearchRecord, SupernetRecord, TimingRecord
from tasks.retries import retry_unless_bad_input
from tasks.tracking import SUBNET_STAGE, common_tags, stage_run, subnet_metrics, subnet_tags


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
        # the interleaved timing's figures go into the cards and the registry
        "timing": sha256_file(timing.timing) if (timing := parameters.get("timing")) else None,
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
    timing: TimingRecord | None = None,
    parent_run_id: str | None = None,
) -> ExportRecord:
    """Export, score on test and register every subnet chosen for ``device``; its latency on the
    device is ``timing``'s (the interleaved run's file, which ``run_export`` reads) where given."""
    tags = {"device": device, "data_version": data.data_version, "supernet_run_id": supernet.mlflow_run_id}
    with stage_run(cfg, "export", parent_run_id=parent_run_id, run_name=f"export-{device}", tags=tags) as run:
        report = run_export(cfg, device, supernet_path=supernet.checkpoint, data_dir=data.data_dir,
                            supernet_run_id=supernet.mlflow_run_id)
        mlflow.log_artifact(str(export_marker(cfg, device)), artifact_path="export")
        runs = {b.budget_ms: b.mlflow_run_id for b in search.budgets}
        versions = [register(cfg, same, runs, supernet.mlflow_run_id, data.data_version)
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
    cfg: ExperimentConfig,
    same: list[ExportedModel],
    run_ids: Mapping[float, str | None],
    supernet_run_id: str | None,
    data_version: str,
) -> ModelVersion:
    """Complete each budget's subnet run (``run_ids``, the search's runs per budget) with the export's
    figures, log the arch (ONNX flavour, with its checkpoint and card) in the tightest budget's run
    and register it there as a version of the device's model, tagged with every budget it serves.

    A run's metrics carry the names the per-device baseline runs use (``COMPARABLE_METRICS``;
    ``latency_ms`` is the device's measurement when the search timed it, else the table's
    prediction, as its ``latency_source`` tag says); the version's tags are what the registry UI
    compares. A budget whose run is unknown or gone (a tracking store wiped after the search was
    cached) gets a fresh run with the same tags and figures.
    """
    model = same[0]
    budgets = ",".join(f"{m.budget_ms:.4f}" for m in same)
    run_tags = {"supernet_run_id": supernet_run_id, "data_version": data_version, "budgets_ms": budgets}
    tags = {
        **subnet_tags(model.device, model.budget_ms, model.arch_id, model.measured_ms),
        **run_tags,
        "latency_predicted_ms": f"{model.predicted_ms:.4f}",
        "latency_measured_ms": "" if model.measured_ms is None else f"{model.measured_ms:.4f}",
        "val_accuracy": f"{model.val_accuracy:.4f}",
        "test_accuracy": f"{model.test_accuracy:.4f}",
    }
    with subnet_run(cfg, model, run_ids.get(model.budget_ms), run_tags):
        info = mlflow.onnx.log_model(
            onnx.load(str(model.onnx)), name="model",
            extra_files=[str(model.checkpoint), str(model.card), str(model.card.with_suffix(".json"))],
            # the flavour's own pinned requirements: inferring them loads the model again in a
            # subprocess, which took minutes per model on a loaded 2-core machine
            pip_requirements=mlflow.onnx.get_default_pip_requirements(),
        )
        version = mlflow.register_model(info.model_uri, registered_model_name(cfg, model.device),
                                         tags={**tags, "config_hash": config_hash(cfg)})
        served = {"registered_model": version.name, "registered_version": str(version.version)}
        mlflow.set_tags(served)
    for looser in same[1:]:  # the same arch chosen for a looser budget: figures and a pointer to the version
        with subnet_run(cfg, looser, run_ids.get(looser.budget_ms), {**run_tags, **served}):
            pass
    return version


@contextlib.contextmanager
def subnet_run(
    cfg: ExperimentConfig, model: ExportedModel, run_id: str | None, tags: Mapping[str, Any]
) -> Iterator[mlflow.ActiveRun]:
    """The (device, budget) subnet's run, reopened (or opened, when the search's is unknown or gone)
    with the export's figures and ``tags`` added; figures the search already logged are not logged
    again unless they changed (the latency, when the interleaved timing re-measured the subnet: its
    history keeps both)."""
    subnet = subnet_tags(model.device, model.budget_ms, model.arch_id, model.measured_ms)
    if run_id is not None and _usable(run_id):
        context = mlflow.start_run(run_id=run_id, nested=True)
    else:
        context = mlflow.start_run(run_name=model.name, nested=True, tags=common_tags(cfg, SUBNET_STAGE, subnet))
    with context as run:
        mlflow.set_tags({**subnet, **{k: str(v) for k, v in tags.items() if v is not None}})
        figures = subnet_metrics(model.val_accuracy, model.measured_ms, model.predicted_ms, model.macs,
                                 model.params, test_accuracy=model.test_accuracy)
        mlflow.log_metrics({
            **{k: v for k, v in figures.items() if run.data.metrics.get(k) != v},
            "standalone_val_accuracy": model.standalone_val_accuracy, "onnx_max_abs_diff": model.onnx_max_abs_diff,
        })
        yield run


def _usable(run_id: str) -> bool:
    """Whether the run exists, is not deleted and is in the export run's experiment (where MLflow reopens it)."""
    try:
        run = mlflow.MlflowClient().get_run(run_id)
    except MlflowException:  # e.g. a tracking store wiped since the search was cached
        return False
    active = mlflow.active_run()
    same_experiment = active is None or run.info.experiment_id == active.info.experiment_id
    return run.info.lifecycle_stage == "active" and same_experiment
