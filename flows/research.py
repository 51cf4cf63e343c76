"""Scheduled re-search: only the devices whose latency table or supernet changed since their last
search are searched again; with nothing changed the flow does nothing expensive."""

from __future__ import annotations

from prefect import task

from elasticvit.config import ExperimentConfig, load_config
from elasticvit.latency.registry import experiment_devices
from elasticvit.layout import search_result_path, supernet_path, table_path
from elasticvit.search.driver import DeviceSearchResult
from elasticvit.utils.hashing import sha256_file
from flows.parameters import Override, Text
from flows.redacted import flow
from flows.search import search_device_flow
from tasks.caching import refresh_if_missing
from tasks.prepare import prepare_data, prepare_marker
from tasks.train import supernet_record


@task(name="stale-devices")
def stale_devices(cfg: ExperimentConfig) -> list[str]:
    """Devices with a table whose last search used another table or another supernet."""
    supernet = supernet_path(cfg.training.output_dir)
    if not supernet.exists():
        return []
    supernet_sha = sha256_file(supernet)
    stale = []
    for device in experiment_devices(cfg):
        table = table_path(cfg.latency.output_dir, device)
        if not table.exists():
            continue
        last = search_result_path(cfg.search, device)
        if not last.exists():
            stale.append(device)
            continue
        result = DeviceSearchResult.load(last)
        if result.supernet != supernet_sha or result.provenance.get("table_sha256") != sha256_file(table):
            stale.append(device)
    return stale


@flow(name="elasticvit-research", log_prints=True)
def research(config: Text = "quickstart", overrides: list[Override] | None = None) -> list[str]:
    cfg = load_config(config, overrides)
    devices = stale_devices(cfg)
    print(f"devices to search again: {devices or 'none'}")
    if devices:
        # read once and handed to every device's search, as the pipeline hands down its own
        data = refresh_if_missing(prepare_data, prepare_marker(cfg))(cfg)
        supernet = supernet_record(cfg)
        for device in devices:
            search_device_flow(device, config, overrides, data=data, supernet=supernet)
    return devices
