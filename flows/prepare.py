"""Single-stage flow for ``elasticvit prepare`` and the DVC ``prepare`` stage."""

from __future__ import annotations

from prefect import flow

from elasticvit.config import load_config
from flows.runs import link_run_artifact
from tasks.caching import refresh_if_missing
from tasks.prepare import prepare_data, prepare_marker


@flow(name="elasticvit-prepare", log_prints=True)
def prepare_flow(config: str = "quickstart", overrides: list[str] | None = None) -> dict[str, str]:
    cfg = load_config(config, overrides)
    result = refresh_if_missing(prepare_data, prepare_marker(cfg))(cfg)
    link_run_artifact(cfg, result["mlflow_run_id"], "prepare-mlflow-run")
    return result
