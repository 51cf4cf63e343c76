"""``elasticvit device``: add a device to an experiment (and onboard it), list, remove.

The library is imported inside the commands so that ``elasticvit --help`` does not load torch.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

from cli.errors import fail
from cli.options import ConfigOpt, OverrideOpt
from elasticvit.config import load_config

app = typer.Typer(help="The devices of an experiment: add (and onboard), list, remove.", no_args_is_help=True)



@app.command()
def add(
    path: Annotated[Path, typer.Argument(help="the device's YAML spec (fields: docs/latency.md)")],
    config: ConfigOpt = "quickstart",
    overrides: OverrideOpt = None,
    local: Annotated[
        bool, typer.Option("--local", help="measure the table in this process: this host is the device")
    ] = False,
    onboard: Annotated[
        bool, typer.Option("--onboard/--no-onboard", help="after adding: table -> search -> export -> baselines")
    ] = True,
) -> None:
    """Add the device at PATH to the experiment, then onboard it.

    Onboarding measures its latency table (by the worker of pool latency-<name> when a Prefect API
    is set and a worker polls that pool, or here with --local), searches and exports its subnets,
    times the trained baselines on it and extends the baseline comparison; it ends with the
    device's table of chosen subnets and baselines.
    """
    from elasticvit.latency.registry import add_device

    cfg = load_config(config, overrides)
    spec = add_device(cfg, path)
    typer.echo(f"added {spec.name} ({spec.backend} on {spec.device}, {spec.threads} thread(s), batch "
               f"{spec.batch_size}) to experiment '{cfg.name}'")
    if os.environ.get("PREFECT_API_URL"):
        from flows.deploy import deploy, latency_deployment

        deploy([latency_deployment(config, spec.name)])
        typer.echo(f"deployed elasticvit-latency/latency-{spec.name} on work pool latency-{spec.name}")
    if not onboard:
        typer.echo(f"onboard it later: elasticvit device add {path} -c {config}" + (" --local" if local else ""))
        return
    if not local:
        _require_worker(spec.name)
    from flows.onboard import onboard_device

    result = onboard_device(spec.name, config, overrides or [], on_device_pool=not local)
    typer.echo(result.model_dump_json(indent=2, include={"device", "onboard_s", "stage_s", "comparison"}))


@app.command(name="list")
def list_(config: ConfigOpt = "quickstart", overrides: OverrideOpt = None) -> None:
    """The experiment's devices: configured (latency.devices) and added, with their table's state."""
    from elasticvit.latency import table_path
    from elasticvit.latency.registry import added_devices, device_spec

    cfg = load_config(config, overrides)
    added = {spec.name for spec in added_devices(cfg)}
    for name in [*cfg.latency.devices, *sorted(added - set(cfg.latency.devices))]:
        spec = device_spec(cfg, name)
        origin = "added" if name in added else "configured"
        table = "table" if table_path(cfg.latency.output_dir, name).exists() else "no table"
        typer.echo(f"{name:24s} {origin:10s} {spec.backend:8s} {spec.device:6s} threads={spec.threads} "
                   f"batch={spec.batch_size}  {table}")


@app.command()
def remove(
    name: Annotated[str, typer.Argument(help="an added device's name")],
    config: ConfigOpt = "quickstart",
    overrides: OverrideOpt = None,
) -> None:
    """Take an added device out of the experiment (its tables and exported models are kept)."""
    from elasticvit.latency.registry import remove_device

    cfg = load_config(config, overrides)
    remove_device(cfg, name)
    typer.echo(f"removed {name} from experiment '{cfg.name}'")


def _require_worker(device: str) -> None:
    """Onboarding through the device's pool waits for its worker: refuse rather than wait forever."""
    pool = f"latency-{device}"
    if not os.environ.get("PREFECT_API_URL"):
        fail(f"no Prefect API (PREFECT_API_URL unset), so no worker can measure {device}: run with --local "
             f"if this host is the device, or start the stack (python -m infra.stack up) and a worker on the device")
    from prefect.client.orchestration import get_client

    async def online() -> bool:
        async with get_client() as client:
            workers = await client.read_workers_for_work_pool(pool)
        return any(w.status == "ONLINE" for w in workers)

    if not asyncio.run(online()):
        fail(f"no worker polls work pool {pool}: start one on the device (.venv/bin/prefect worker start "
             f"--pool {pool} --type process), or run with --local if this host is the device")
