"""Prefect tasks for the ``baselines`` stage: train and time one timm model per task, then compare.

Each baseline is its own MLflow run, tagged ``kind=baseline`` and ``model=<name>``, in the same
experiment as the supernet and its subnets (nested under the pipeline run when one is given), so
the MLflow UI lists baselines and subnets side by side and filters them by ``tags.kind``. Under it,
one run per device (``tags.device``) holds the figures under the names a subnet's run uses
(``tasks.tracking.COMPARABLE_METRICS``), so one device's subnets and baselines compare directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
from prefect import task
from prefect.context import TaskRunContext

from elasticvit.baselines import (
    BaselineResult,
    baseline_dir,
    compare_all,
    resolve_budget,
    run_baseline,
    time_baseline,
)
from elasticvit.baselines.interleaved import device_timings
from elasticvit.baselines.report import COMPARISON_JSON, comparison_dir, write_report
from elasticvit.config import ExperimentConfig
from elasticvit.latency.registry import device_spec
from elasticvit.layout import RESULT_NAME
from elasticvit.search import DeviceSearchResult
from elasticvit.training import ProgressCallback
from elasticvit.utils.hashing import sha256_file
from tasks.caching import input_key
from tasks.records import BaselineRecord, ComparisonRecord
from tasks.retries import retry_unless_bad_input
from tasks.tracking import LATENCY_SOURCE_TAG, common_tags, comparable_metrics, log_flat_params, stage_run
from tasks.train import MlflowCallback

LOG_EVERY_STEPS = 20
"""Step metrics go to MLflow every this many steps: a baseline runs thousands of short steps."""


def baseline_marker(cfg: ExperimentConfig, model: str) -> Path:
    """The file whose presence means the baseline is done (see ``tasks.caching.refresh_if_missing``)."""
    return baseline_dir(cfg.baselines.output_dir, model).resolve() / RESULT_NAME


def _baseline_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    cfg: ExperimentConfig = parameters["cfg"]
    model: str = parameters["model"]
    checkpoint = cfg.baselines.checkpoints.get(model)
    inputs = {
        "model": model,
        "checkpoint": sha256_file(checkpoint) if checkpoint else None,
        "data_version": parameters["data_version"],
        # the resolved budget, not the setting: same_as_supernet changes with the supernet's time
        "budget": resolve_budget(cfg.baselines, cfg.training, parameters["supernet_wall_s"]).model_dump(),
        "training": cfg.training.model_dump(mode="json", exclude={"output_dir"}),
        "latency": cfg.latency.model_dump(mode="json", exclude={"calibration_archs", "validate_archs", "output_dir"}),
        # the configured devices only: a device added later is timed by time_baseline_task, not retrained for;
        # a device's calibration count only refits its table's correction, as latency.calibration_archs above
        "devices": [device_spec(cfg, d).model_dump(mode="json", exclude={"calibration_archs"})
                    for d in cfg.latency.devices],
        "out": str(baseline_marker(cfg, model)),
    }
    return input_key(f"baseline-{model}", inputs)


@task(
    name="baseline-train", cache_key_fn=_baseline_cache_key, persist_result=True, retries=1,
    retry_condition_fn=retry_unless_bad_input,
)
def train_baseline_task(
    cfg: ExperimentConfig,
    model: str,
    data_dir: str,
    data_version: str,
    supernet_wall_s: float | None = None,
    parent_run_id: str | None = None,
) -> BaselineRecord:
    """Train, evaluate and time ``model``; return its result path, headline figures and run id.

    ``supernet_wall_s`` is the supernet's training wall time, needed when
    ``baselines.budget`` is ``same_as_supernet``.
    """
    budget = resolve_budget(cfg.baselines, cfg.training, supernet_wall_s)
    tags = {"kind": "baseline", "model": model, "data_version": data_version}
    with stage_run(cfg, "baseline", parent_run_id=parent_run_id, run_name=f"baseline-{model}", tags=tags) as run:
        log_flat_params("training", cfg.training)
        log_flat_params("baselines", cfg.baselines)
        mlflow.log_params({"model": model, "budget": budget.describe()})
        with ProgressCallback() as progress:
            result = run_baseline(
                cfg, model, data_dir, budget, checkpoint=cfg.baselines.checkpoints.get(model),
                callbacks=[MlflowCallback(log_every=LOG_EVERY_STEPS), progress],
            )
        log_result(result)
        for device in result.latency:
            log_device_run(cfg, result, device, tags)
    return BaselineRecord.of(result, baseline_marker(cfg, model), run.info.run_id)


@task(name="baseline-time", retries=1, retry_condition_fn=retry_unless_bad_input)
def time_baseline_task(
    cfg: ExperimentConfig, model: str, device: str, parent_run_id: str | None = None
) -> BaselineRecord:
    """Time a trained baseline on ``device`` (a device added after it was trained) and log the
    device's run under the baseline's, with the names a subnet's run uses; nothing is retrained."""
    known = BaselineResult.load(baseline_marker(cfg, model)).latency if baseline_marker(cfg, model).exists() else {}
    result = time_baseline(cfg, model, device_spec(cfg, device))
    if device not in known:
        tags = {"kind": "baseline", "model": model}
        with stage_run(cfg, "baseline", parent_run_id=parent_run_id, run_name=f"baseline-{model}", tags=tags):
            log_device_run(cfg, result, device, tags)
        print(f"baseline {model} on {device}: {result.latency_ms(device):.3f} ms")
    return BaselineRecord.of(result, baseline_marker(cfg, model))


def log_device_run(cfg: ExperimentConfig, result: BaselineResult, device: str, tags: dict[str, str]) -> None:
    """One nested run per (baseline, device) holding the figures under the subnets' metric names
    (``latency_ms`` is always measured: a baseline has no latency table)."""
    run_tags = {**tags, "device": device, LATENCY_SOURCE_TAG: "measured"}
    with mlflow.start_run(run_name=f"baseline-{result.model}-{device}", nested=True,
                          tags=common_tags(cfg, "baseline-device", run_tags)):
        mlflow.log_metrics(comparable_metrics(result.test_accuracy, result.val_accuracy,
                                              result.latency_ms(device), result.macs, result.params))


@task(name="baseline-compare", retries=1, retry_condition_fn=retry_unless_bad_input)
def compare_baselines_task(
    cfg: ExperimentConfig,
    baseline_results: list[str],
    search_results: list[str],
    parent_run_id: str | None = None,
) -> ComparisonRecord:
    """Place the baselines on every device's Pareto plot; write and log the comparison table.

    A device's interleaved timing (``tasks.timing``), where one was made for its search, sets the
    latencies of what it timed. Cheap (no training, no measuring), so it is not cached: it always
    reflects the given files.
    """
    baselines = [BaselineResult.load(p) for p in baseline_results]
    searches = [DeviceSearchResult.load(p) for p in search_results]
    comparison = compare_all(searches, baselines, device_timings(cfg.search, searches))
    out = comparison_dir(cfg.baselines.output_dir)
    with stage_run(cfg, "baseline-compare", parent_run_id=parent_run_id, tags={"kind": "baseline-comparison"}) as run:
        for path in write_report(comparison, out):
            mlflow.log_artifact(str(path), artifact_path="comparison")
        for row in comparison.rows:
            prefix = f"{row.device}/{row.baseline}"
            if row.accuracy_gain is not None:
                mlflow.log_metric(f"accuracy_gain/{prefix}", row.accuracy_gain)
            if row.speedup_at_accuracy is not None:
                mlflow.log_metric(f"speedup/{prefix}", row.speedup_at_accuracy)
    return ComparisonRecord(comparison=str((out / COMPARISON_JSON).resolve()), mlflow_run_id=run.info.run_id)


def log_result(result: BaselineResult) -> None:
    """The baseline's headline figures as run metrics, its full result as an artifact."""
    metrics = {
        "val_accuracy": result.val_accuracy,
        "val_loss": result.val_loss,
        "params": float(result.params),
        "macs": float(result.macs),
        "train_s": result.train.train_s,
        "train_steps": float(result.train.steps),
        "images_per_s": result.train.images_per_s,
    }
    if result.test_accuracy is not None:
        metrics["test_accuracy"] = result.test_accuracy
    metrics.update({f"latency_ms/{device}": result.latency_ms(device) for device in result.latency})
    mlflow.log_metrics(metrics)
    mlflow.log_dict(result.model_dump(mode="json"), "baseline/result.json")

