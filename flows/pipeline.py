"""The end-to-end pipeline flow: prepare -> train -> latency per device -> search -> export."""

from __future__ import annotations

from prefect import flow

from elasticvit.config import load_config
from flows.runs import close_parent_run, link_run_artifact, open_parent_run
from tasks.caching import refresh_if_missing
from tasks.prepare import prepare_data, prepare_marker


@flow(name="elasticvit-pipeline", log_prints=True)
def pipeline(config: str = "quickstart", overrides: list[str] | None = None) -> dict[str, object]:
    cfg = load_config(config, overrides)
    parent = open_parent_run(cfg, "pipeline")
    try:
        data = refresh_if_missing(prepare_data, prepare_marker(cfg))(cfg, parent_run_id=parent)
    except BaseException:
        close_parent_run(parent, "FAILED")
        raise
    close_parent_run(parent)
    link_run_artifact(cfg, parent, "pipeline-mlflow-run")
    return {"mlflow_run_id": parent, "data": data}
