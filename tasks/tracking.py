"""MLflow wiring shared by every task: one experiment per config, a run per stage, common tags."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow
from prefect import get_run_logger
from prefect.exceptions import MissingContextError

from elasticvit.config import ExperimentConfig, Settings
from elasticvit.config.io import config_hash
from elasticvit.utils.redact import redact_value


def configure_mlflow(cfg: ExperimentConfig, settings: Settings | None = None) -> str:
    """Point MLflow at the configured server and experiment; return the experiment name."""
    settings = settings or Settings()
    mlflow.set_tracking_uri(settings.tracking_uri)
    # MLflow prints "View experiment at" <server>/#/experiments/<id> after every run, which MLflow 3's UI
    # opens on its GenAI traces overview; the flows print the runs table's address instead
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    if settings.s3_endpoint_url:
        # MLflow's S3 artifact client reads the endpoint from this variable.
        os.environ.setdefault("MLFLOW_S3_ENDPOINT_URL", settings.s3_endpoint_url)
    experiment = cfg.tracking.experiment
    found = mlflow.set_experiment(experiment)
    if EXPERIMENT_KIND_TAG not in found.tags:
        # MLflow 3 opens an experiment without a kind on its GenAI traces page; ours holds training runs
        mlflow.MlflowClient().set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, "custom_model_development")
    return experiment


EXPERIMENT_KIND_TAG = "mlflow.experimentKind"


def common_tags(cfg: ExperimentConfig, stage: str, extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    tags = {
        "stage": stage,
        "config_name": cfg.name,
        "config_hash": config_hash(cfg),
        "space": cfg.space.name,
        "dataset": cfg.data.source,
        "sampler": cfg.sampling.strategy,
    }
    commit = git_commit()
    if commit:
        tags["git_commit"] = commit
    tags.update({k: str(v) for k, v in (extra or {}).items()})
    return tags


COMPARABLE_METRICS = ("test_accuracy", "val_accuracy", "latency_ms", "macs", "params")
"""What every subnet run and every per-device baseline run logs under the same names, so MLflow's
compare view (and ``search_runs`` filtered on ``tags.device``) puts them side by side."""


def comparable_metrics(
    test_accuracy: float | None, val_accuracy: float, latency_ms: float, macs: int | None, params: int | None
) -> dict[str, float]:
    figures = dict(zip(COMPARABLE_METRICS, (test_accuracy, val_accuracy, latency_ms, macs, params), strict=True))
    return {k: float(v) for k, v in figures.items() if v is not None}


SUBNET_STAGE = "subnet"
"""The ``stage`` tag of a (device, budget) subnet's run: opened by the search, completed by the export."""

LATENCY_SOURCE_TAG = "latency_source"
"""Tag saying where a run's ``latency_ms`` comes from: ``measured`` on the device, or ``predicted``
by the device's latency table (a subnet the search did not time)."""


def latency_source(measured_ms: float | None) -> str:
    """What a subnet's ``latency_ms`` is: the device's measurement when there is one, else the table's prediction."""
    return "measured" if measured_ms is not None else "predicted"


def subnet_tags(device: str, budget_ms: float, arch_id: str, measured_ms: float | None) -> dict[str, str]:
    """The tags of a (device, budget) subnet's run, beside ``common_tags`` (config_hash among them)."""
    return {
        "kind": "subnet", "device": device, "budget_ms": f"{budget_ms:.4f}", "arch_id": arch_id,
        LATENCY_SOURCE_TAG: latency_source(measured_ms),
    }


def subnet_metrics(
    val_accuracy: float,
    measured_ms: float | None,
    predicted_ms: float,
    macs: int | None,
    params: int | None,
    test_accuracy: float | None = None,
) -> dict[str, float]:
    """A subnet run's figures under the baselines' names (``COMPARABLE_METRICS``), plus the table's
    prediction as ``latency_predicted_ms``; ``test_accuracy`` arrives with the export."""
    latency = measured_ms if measured_ms is not None else predicted_ms
    return {**comparable_metrics(test_accuracy, val_accuracy, latency, macs, params),
            "latency_predicted_ms": float(predicted_ms)}


@contextlib.contextmanager
def stage_run(
    cfg: ExperimentConfig,
    stage: str,
    *,
    parent_run_id: str | None = None,
    run_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """Open an MLflow run for one stage, nested under the pipeline run when one is given."""
    configure_mlflow(cfg)
    with mlflow.start_run(
        run_name=run_name or stage,
        parent_run_id=parent_run_id,
        nested=parent_run_id is not None,
        tags=common_tags(cfg, stage, tags),
    ) as run:
        yield run


def log_flat_params(prefix: str, section: Any) -> None:
    """Log a pydantic config section as ``prefix.field`` params (MLflow wants flat strings)."""
    flat: dict[str, str] = {}
    _flatten(prefix, section.model_dump(mode="json"), flat)
    mlflow.log_params(flat)


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, item, out)
    else:  # credentials never reach MLflow's params table
        out[prefix] = redact_value(prefix, str(value))[:500]


@contextlib.contextmanager
def resume_run(cfg: ExperimentConfig, run_id: str) -> Iterator[mlflow.ActiveRun]:
    """Reopen a stage's run (e.g. to add validation results to the latency run)."""
    configure_mlflow(cfg)
    with mlflow.start_run(run_id=run_id) as run:
        yield run


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """Prefect's run logger inside a flow or task run (its lines show in the UI), else a plain one."""
    try:
        return get_run_logger()
    except MissingContextError:  # a task's function called directly, as in tests
        return logging.getLogger("tasks")
