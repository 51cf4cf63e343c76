"""Single-stage flows behind ``elasticvit <stage>`` and the DVC stages.

Each re-uses the cached results of the stages before it, so running ``train`` after ``prepare``
does not prepare again.
"""

from __future__ import annotations

from elasticvit.config import load_config
from flows.mlflow_runs import link_run_artifact
from flows.parameters import Override, Text
from flows.redacted import flow
from tasks.caching import refresh_if_missing
from tasks.prepare import prepare_data, prepare_marker
from tasks.records import PreparedData, SupernetRecord
from tasks.train import train, train_marker


@flow(name="elasticvit-prepare", log_prints=True)
def prepare_flow(config: Text = "quickstart", overrides: list[Override] | None = None) -> PreparedData:
    cfg = load_config(config, overrides)
    result = refresh_if_missing(prepare_data, prepare_marker(cfg))(cfg)
    link_run_artifact(cfg, result.mlflow_run_id, "prepare-mlflow-run")
    return result


@flow(name="elasticvit-train", log_prints=True)
def train_flow(config: Text = "quickstart", overrides: list[Override] | None = None) -> SupernetRecord:
    cfg = load_config(config, overrides)
    data = refresh_if_missing(prepare_data, prepare_marker(cfg))(cfg)
    result = refresh_if_missing(train, train_marker(cfg))(cfg, data)
    link_run_artifact(cfg, result.mlflow_run_id, "train-mlflow-run")
    return result
