"""Search, export and register one device's subnets with the trained supernet and its table.

Deployed with a trigger on new latency tables (see flows/deploy.py), so a device whose table
arrives gets its models without a human.
"""

from __future__ import annotations

from prefect import flow

from elasticvit.config import load_config
from flows.runs import link_run_artifact
from tasks.caching import refresh_if_missing
from tasks.export import export_device, export_marker
from tasks.latency import table_record
from tasks.prepare import prepare_data, prepare_marker
from tasks.search import search_device, search_marker
from tasks.train import supernet_record


@flow(name="elasticvit-search", log_prints=True)
def search_device_flow(
    device: str,
    config: str = "quickstart",
    overrides: list[str] | None = None,
    parent_run_id: str | None = None,
) -> dict[str, object]:
    cfg = load_config(config, overrides)
    data = refresh_if_missing(prepare_data, prepare_marker(cfg))(cfg, parent_run_id=parent_run_id)
    supernet = supernet_record(cfg)  # never trains: this flow runs whenever a table arrives
    table = table_record(cfg, device)
    found = refresh_if_missing(search_device, search_marker(cfg, device))(
        cfg, device, data, supernet, table, parent_run_id=parent_run_id
    )
    exported = refresh_if_missing(export_device, export_marker(cfg, device))(
        cfg, device, data, supernet, found, parent_run_id=parent_run_id
    )
    link_run_artifact(cfg, found["mlflow_run_id"], f"search-{device}", f"registered model `{exported['registered_model']}`")
    return {"device": device, "search": found, "export": exported}
