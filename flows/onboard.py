"""Onboard a new device: its latency table is measured on the device, then it gets its subnets."""

from __future__ import annotations

from prefect import flow
from prefect.deployments import run_deployment

from flows.latency import latency_device
from flows.search import search_device_flow


@flow(name="elasticvit-onboard", log_prints=True)
def onboard_device(
    device: str,
    config: str = "quickstart",
    overrides: list[str] | None = None,
    on_device_pool: bool = True,
) -> dict[str, object]:
    """With ``on_device_pool`` the table is measured by the ``latency-<device>`` deployment, i.e. by
    a worker on the device's host; without, in this process (when this host is the device)."""
    if on_device_pool:
        run = run_deployment(
            f"elasticvit-latency/latency-{device}",
            parameters={"device": device, "config": config, "overrides": overrides or [], "announce": False},
        )
        if not run.state or not run.state.is_completed():
            raise RuntimeError(f"latency collection on device '{device}' ended {run.state}: see flow run {run.id}")
    else:
        latency_device(device, config, overrides, announce=False)
    return search_device_flow(device, config, overrides)
