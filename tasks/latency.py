"""Prefect tasks for the ``latency`` stage; meant to run on the device host (see flows/deploy.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
from prefect import get_run_logger, task
from prefect.context import TaskRunContext
from prefect.events import emit_event

from elasticvit.config import ExperimentConfig
from elasticvit.latency import (
    LatencyPredictor,
    LatencyTable,
    collect_table,
    scatter_plot,
    table_path,
    validate_predictor,
)
from elasticvit.latency.registry import device_spec
from elasticvit.layout import validation_path
from elasticvit.space import load_space
from tasks.caching import input_key
from tasks.records import LatencyTableRecord, LatencyValidation
from tasks.retries import retry_unless_bad_input
from tasks.tracking import resume_run, stage_run

TABLE_EVENT = "elasticvit.latency.table-created"


def _table_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    cfg: ExperimentConfig = parameters["cfg"]
    device = parameters["device"]
    inputs = {
        "device": device_spec(cfg, device).model_dump(mode="json"),
        "latency": cfg.latency.model_dump(mode="json", exclude={"validate_archs"}),
        "space": load_space(cfg.space.name).hash,
        "num_classes": parameters["num_classes"],
    }
    return input_key(f"latency-{device}", {**inputs, "out": str(latency_marker(cfg, device))})


def latency_marker(cfg: ExperimentConfig, device: str) -> Path:
    return table_path(cfg.latency.output_dir, device).resolve()


@task(
    name="latency-collect", cache_key_fn=_table_cache_key, persist_result=True, retries=1,
    retry_condition_fn=retry_unless_bad_input,
)
def collect_latency(
    cfg: ExperimentConfig,
    device: str,
    num_classes: int,
    parent_run_id: str | None = None,
    announce: bool = True,
) -> LatencyTableRecord:
    """Measure the device's block table (resuming a partial one).

    With ``announce`` a new table emits an event, on which the search deployment's trigger
    fires; flows that run the search themselves pass ``announce=False``. The cache key leaves
    ``announce`` and ``parent_run_id`` out: neither changes the table.
    """
    spec = device_spec(cfg, device)
    path = table_path(cfg.latency.output_dir, spec.name)
    with stage_run(cfg, "latency", parent_run_id=parent_run_id, run_name=f"latency-{device}", tags={"device": device}) as run:
        table = collect_table(load_space(cfg.space.name), spec, num_classes, cfg.latency, path, progress=True)
        mlflow.log_params({"device.backend": spec.backend, "device.threads": spec.threads, "entries": len(table.entries)})
        mlflow.log_metric("collect_s", table.collect_s)
        mlflow.log_artifact(str(path), artifact_path="latency")
    record = LatencyTableRecord.of(device, path, run.info.run_id)
    if announce:
        announce_table(cfg, device, path, record.table_sha256)
    return record


def announce_table(cfg: ExperimentConfig, device: str, path: Path, digest: str) -> None:
    emit_event(
        event=TABLE_EVENT,
        resource={"prefect.resource.id": f"elasticvit.device.{device}", "elasticvit.device": device},
        payload={"device": device, "table": str(path.resolve()), "sha256": digest, "config": cfg.name},
    )


@task(name="latency-validate", retries=1, retry_condition_fn=retry_unless_bad_input)
def validate_latency(cfg: ExperimentConfig, table: LatencyTableRecord) -> LatencyValidation:
    """Compare predicted with measured end-to-end latency of random subnets; log them on the table's run.

    Takes a table this process collected (``collect_latency``): a table described from disk has no
    run to log to.
    """
    if table.mlflow_run_id is None:
        raise ValueError(f"latency table {table.table} has no collect run to log its validation to")
    space = load_space(cfg.space.name)
    spec = device_spec(cfg, table.device)
    path = Path(table.table)
    predictor = LatencyPredictor.from_table(LatencyTable.load(path), space)
    report = validate_predictor(space, predictor, spec, cfg.latency, progress=True)
    report_path = report.save(validation_path(path))
    plot_path = scatter_plot(report, validation_path(path).with_suffix(".png"))
    with resume_run(cfg, table.mlflow_run_id):
        metrics = {"within_10pct": report.within_10pct, "rmse_ms": report.rmse_ms}
        if report.remeasure_within_10pct is not None:
            metrics["remeasure_within_10pct"] = report.remeasure_within_10pct
        mlflow.log_metrics(metrics)
        # the search refuses an untrusted table (search.allow_noisy_latency): the UI shows why
        mlflow.set_tag("latency_trusted", str(report.trusted).lower())
        mlflow.log_artifact(str(report_path), artifact_path="latency")
        mlflow.log_artifact(str(plot_path), artifact_path="latency")
    warning = report.noise_warning()
    if warning:
        get_run_logger().warning(warning)
    summary = report.summary() + (f". Warning: {warning}" if warning else "")
    return LatencyValidation(within_10pct=report.within_10pct, rmse_ms=report.rmse_ms, summary=summary,
                             noise_warning=warning)


@task(name="latency-table-record")
def table_record(cfg: ExperimentConfig, device: str) -> LatencyTableRecord:
    """Describe a table that already exists (collected on the device, maybe by another flow)."""
    path = latency_marker(cfg, device)
    if not path.exists():
        raise FileNotFoundError(
            f"no latency table for device '{device}' at {path}; collect it on the device first "
            f"(elasticvit latency collect --device {device}, or the latency-{device} deployment)"
        )
    return LatencyTableRecord.of(device, path)
