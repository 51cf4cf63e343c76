"""Search one device's subnets with the trained supernet and its table, time the chosen ones, part
of the front and the trained baselines interleaved on the device, then export and register them.

Deployed with a trigger on new latency tables (see flows/deploy.py), so a device whose table
arrives gets its models without a human.
"""

from __future__ import annotations

from elasticvit.config import load_config
from elasticvit.layout import trained_baselines
from flows.mlflow_runs import link_run_artifact, runs_url
from flows.parameters import Override, Text
from flows.redacted import flow
from tasks.caching import refresh_if_missing
from tasks.export import export_device, export_marker
from tasks.latency import table_record
from tasks.prepare import prepare_data, prepare_marker
from tasks.records import BaselineRecord, DeviceResult, PreparedData, SupernetRecord
from tasks.search import search_device, search_marker
from tasks.timing import time_front_task, timing_marker
from tasks.train import supernet_record


@flow(name="elasticvit-search", log_prints=True)
def search_device_flow(
    device: Text,
    config: Text = "quickstart",
    overrides: list[Override] | None = None,
    parent_run_id: Text | None = None,
    data: PreparedData | None = None,
    supernet: SupernetRecord | None = None,
    baselines: list[BaselineRecord] | None = None,
) -> DeviceResult:
    """``data``, ``supernet`` and ``baselines`` are the records of a flow that already has them (the
    pipeline passes its own, so no device prepares again); left out, as a deployment run does, they
    are read here: the prepared data through its (cached) task, the supernet and every baseline
    trained so far from disk."""
    cfg = load_config(config, overrides)
    if data is None:
        data = refresh_if_missing(prepare_data, prepare_marker(cfg))(cfg, parent_run_id=parent_run_id)
    if supernet is None:
        supernet = supernet_record(cfg)  # never trains: this flow runs whenever a table arrives
    table = table_record(cfg, device)
    found = refresh_if_missing(search_device, search_marker(cfg, device))(
        cfg, device, data, supernet, table, parent_run_id=parent_run_id
    )
    if baselines is None:
        trained = [str(path.resolve()) for path in trained_baselines(cfg.baselines).values()]
    else:
        trained = [b.result for b in baselines]
    timed = refresh_if_missing(time_front_task, timing_marker(cfg, device))(
        cfg, device, supernet, found, trained, parent_run_id=parent_run_id
    )
    exported = refresh_if_missing(export_device, export_marker(cfg, device))(
        cfg, device, data, supernet, found, timed, parent_run_id=parent_run_id
    )
    link_run_artifact(cfg, found.mlflow_run_id, f"search-{device}", f"registered model `{exported.registered_model}`")
    if url := runs_url(cfg, device=device):  # the device's subnets beside its baselines
        print(f"{device}: MLflow runs {url}")
    return DeviceResult(device=device, search=found, timing=timed, export=exported)
