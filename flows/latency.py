"""Latency flow for one device. Deployed to the device's own work pool, so a worker started on
the device host picks it up and every measurement runs on the real hardware."""

from __future__ import annotations

from elasticvit.config import load_config
from elasticvit.data import read_manifest
from flows.mlflow_runs import link_run_artifact
from flows.parameters import Override, Text
from flows.redacted import flow
from tasks.caching import refresh_if_missing
from tasks.latency import collect_latency, latency_marker, validate_latency
from tasks.records import LatencyResult


@flow(name="elasticvit-latency", log_prints=True)
def latency_device(
    device: Text,
    config: Text = "quickstart",
    overrides: list[Override] | None = None,
    num_classes: int | None = None,
    parent_run_id: Text | None = None,
    announce: bool = True,
) -> LatencyResult:
    cfg = load_config(config, overrides)
    if num_classes is None:  # the head block's size: from the prepared data unless given
        num_classes = read_manifest(cfg.data.output_dir).num_classes
    table = refresh_if_missing(collect_latency, latency_marker(cfg, device))(cfg, device, num_classes, parent_run_id=parent_run_id, announce=announce)
    validation = validate_latency(cfg, table)
    link_run_artifact(cfg, table.mlflow_run_id, f"latency-{device}", f"{device}: {validation.summary}")
    return LatencyResult(table=table, validation=validation)
