"""Prefect task for the ``train`` stage: supernet training recorded live in MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
from prefect import task
from prefect.context import TaskRunContext

from elasticvit.config import ExperimentConfig
from elasticvit.layout import supernet_path
from elasticvit.space import load_space
from elasticvit.training import ProgressCallback, load_supernet, train_supernet
from elasticvit.training.plots import plot_accuracy_vs_macs
from elasticvit.training.records import EpochMetrics, StepMetrics
from elasticvit.utils.hashing import sha256_file
from tasks.caching import input_key
from tasks.records import PreparedData, SupernetRecord
from tasks.retries import retry_unless_bad_input
from tasks.tracking import configure_mlflow, log_flat_params, stage_run


class MlflowCallback:
    """Streams the loop's records to the active MLflow run (rank 0 only, as the loop promises)."""

    def __init__(self, log_every: int = 1) -> None:
        self.log_every = log_every

    def on_step(self, record: StepMetrics) -> None:
        if record.step % self.log_every == 0:
            mlflow.log_metrics({f"step/{k}": v for k, v in record.metrics.items()}, step=record.step)

    def on_epoch(self, record: EpochMetrics) -> None:
        metrics = {f"val/{k}": v for k, v in record.per_level.items()}
        metrics.update({f"train/{k}": v for k, v in record.train.items()})
        mlflow.log_metrics(metrics, step=record.step)
        mlflow.log_dict(record.model_dump(mode="json"), f"epochs/epoch-{record.epoch:03d}.json")

    def on_checkpoint(self, path: Path, step: int) -> None:
        mlflow.set_tag("last_checkpoint_step", str(step))


def _cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    cfg: ExperimentConfig = parameters["cfg"]
    inputs = {
        "training": cfg.training.model_dump(mode="json"),
        "sampling": cfg.sampling.model_dump(mode="json"),
        "space": cfg.space.model_dump(mode="json"),
        # the space's content, not only its name: an edited space YAML must train anew
        "space_hash": load_space(cfg.space.name).hash,
        # a teacher checkpoint's content, not its path (a timm model name is covered by the config)
        "teacher": sha256_file(cfg.training.teacher) if cfg.training.teacher and Path(cfg.training.teacher).is_file()
        else None,
        "data_version": parameters["data"].data_version,
    }
    return input_key("train", {**inputs, "out": str(train_marker(cfg))})


SUPERNET_TAG = "supernet_sha256"
"""Tag on the train run naming the checkpoint it wrote, so later flows find the run from the file."""


def train_marker(cfg: ExperimentConfig) -> Path:
    return supernet_path(cfg.training.output_dir).resolve()


@task(
    name="train-supernet", cache_key_fn=_cache_key, persist_result=True, retries=1, retry_delay_seconds=10,
    retry_condition_fn=retry_unless_bad_input,
)
def train(cfg: ExperimentConfig, data: PreparedData, parent_run_id: str | None = None) -> SupernetRecord:
    """Train (or resume) the supernet; return its checkpoint, hash, MLflow run id and metrics.

    A retry resumes from the last complete checkpoint the loop wrote.
    """
    out_dir = Path(cfg.training.output_dir).resolve()
    with stage_run(cfg, "train", parent_run_id=parent_run_id, tags={"data_version": data.data_version}) as run:
        log_flat_params("training", cfg.training)
        log_flat_params("sampling", cfg.sampling)
        with ProgressCallback() as progress:
            result = train_supernet(cfg, Path(data.data_dir), out_dir, callbacks=[MlflowCallback(), progress])
        mlflow.log_metrics({f"final/{k}": v for k, v in result.final_metrics.items()})
        mlflow.log_metric("wall_time_s", result.wall_time_s)
        if result.grad_cos_prev_step_mean is not None:
            mlflow.log_metric("grad_cos_prev_step_mean", result.grad_cos_prev_step_mean)
        plot = out_dir / "accuracy_vs_macs.png"
        plot_accuracy_vs_macs({"final": result.final_probes}, plot, title=f"{cfg.sampling.strategy} sampling")
        mlflow.log_artifact(str(plot))
        mlflow.log_artifact(str(result.checkpoint), artifact_path="supernet")
        mlflow.log_dict(result.model_dump(mode="json"), "train_result.json")
        digest = sha256_file(result.checkpoint)
        mlflow.set_tag(SUPERNET_TAG, digest)
    return SupernetRecord.of(result.checkpoint, digest, result.final_metrics, run.info.run_id, result.wall_time_s)


@task(name="supernet-record")
def supernet_record(cfg: ExperimentConfig) -> SupernetRecord:
    """Describe the supernet already on disk, like ``train`` would, without ever training.

    Flows that only use the supernet (search on a new table, re-search) call this: calling ``train``
    there would retrain whenever its cache is gone (another Prefect server, a DVC-trained file).
    The MLflow run is the train run tagged with the checkpoint's hash (None if it was not recorded).
    """
    path = train_marker(cfg)
    if not path.exists():
        raise FileNotFoundError(f"no trained supernet at {path}; run `elasticvit train` first")
    digest = sha256_file(path)
    configure_mlflow(cfg)
    runs = mlflow.search_runs(
        filter_string=f"tags.{SUPERNET_TAG} = '{digest}'", order_by=["start_time DESC"], max_results=1,
        output_format="list",
    )
    run = runs[0] if runs else None
    return SupernetRecord.of(
        path, digest, load_supernet(path)[1].metrics,
        mlflow_run_id=run.info.run_id if run else None,
        wall_time_s=run.data.metrics.get("wall_time_s") if run else None,
    )
