"""The MLflow parent run of a pipeline and its link in the Prefect UI."""

from __future__ import annotations

from mlflow.tracking import MlflowClient
from prefect.artifacts import create_markdown_artifact

from elasticvit.config import ExperimentConfig, Settings
from tasks.tracking import common_tags, configure_mlflow


def open_parent_run(cfg: ExperimentConfig, flow_name: str) -> str:
    """Create the run that every stage's run nests under; return its id."""
    configure_mlflow(cfg)
    client = MlflowClient()
    experiment = client.get_experiment_by_name(cfg.tracking.experiment)
    run = client.create_run(
        experiment.experiment_id,
        run_name=cfg.tracking.run_name or f"{flow_name}-{cfg.name}",
        tags=common_tags(cfg, flow_name),
    )
    return run.info.run_id


def close_parent_run(run_id: str, status: str = "FINISHED") -> None:
    MlflowClient().set_terminated(run_id, status=status)


def link_run_artifact(cfg: ExperimentConfig, run_id: str, key: str, summary_md: str = "") -> None:
    """Publish the MLflow run id (and its UI address, when the server speaks HTTP) in Prefect."""
    uri = Settings().tracking_uri
    experiment = MlflowClient().get_experiment_by_name(cfg.tracking.experiment)
    where = f"`{run_id}` (tracking store `{uri}`)"
    if uri.startswith("http"):
        where = f"[{run_id}]({uri.rstrip('/')}/#/experiments/{experiment.experiment_id}/runs/{run_id})"
    create_markdown_artifact(
        key=key,
        markdown=f"## MLflow run\n\nExperiment `{cfg.tracking.experiment}`, run {where}\n\n{summary_md}",
        description="MLflow run of this flow run",
    )
