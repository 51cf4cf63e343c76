"""The MLflow parent run of a pipeline and its link in the Prefect UI."""

from __future__ import annotations

from urllib.parse import quote, urlencode

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


COMPARED_RUNS = "tags.latency_source LIKE '%'"
"""The runs that compare: one per (device, budget) subnet and one per (baseline, device), both
tagged ``latency_source`` and logging ``tasks.tracking.COMPARABLE_METRICS``. (Not ``IS NOT NULL``:
the UI takes a filter without a comparison operator it knows for a run-name search.)"""

UI_QUERY = {"workflowType": "machine_learning", "compareRunsMode": "TABLE"}
"""MLflow 3's UI opens an experiment in the view of the browser's last "workflow type" (GenAI apps
by default, whatever the experiment's kind tag says) unless the address names one; these pin the
machine-learning view and the runs table (not its charts)."""


def runs_url(cfg: ExperimentConfig, run_id: str | None = None, device: str | None = None) -> str | None:
    """The MLflow UI's runs table of the experiment, or one run's page; None without an HTTP server.

    The table shows the subnets' and baselines' runs (of ``device`` only, when given), best
    ``test_accuracy`` first. Which columns it shows is the browser's choice (MLflow keeps it in the
    browser's local storage, not in the address): add ``test_accuracy``, ``latency_ms`` and ``macs``
    under "Columns" once.
    """
    uri = Settings().tracking_uri
    if not uri.startswith("http"):
        return None
    experiment = MlflowClient().get_experiment_by_name(cfg.tracking.experiment)
    base = f"{uri.rstrip('/')}/#/experiments/{experiment.experiment_id}/runs"
    if run_id:
        return f"{base}/{run_id}?{urlencode({'workflowType': UI_QUERY['workflowType']})}"
    search = COMPARED_RUNS + (f" and tags.device = '{device}'" if device else "")
    query = {**UI_QUERY, "searchFilter": search, "orderByKey": "metrics.`test_accuracy`", "orderByAsc": "false"}
    return f"{base}?{urlencode(query, quote_via=quote)}"


def link_run_artifact(cfg: ExperimentConfig, run_id: str, key: str, summary_md: str = "") -> None:
    """Publish the MLflow run id (and its UI address, when the server speaks HTTP) in Prefect."""
    url = runs_url(cfg, run_id)
    where = f"[{run_id}]({url})" if url else f"`{run_id}` (tracking store `{Settings().tracking_uri}`)"
    create_markdown_artifact(
        key=key,
        markdown=f"## MLflow run\n\nExperiment `{cfg.tracking.experiment}`, run {where}\n\n{summary_md}",
        description="MLflow run of this flow run",
    )
