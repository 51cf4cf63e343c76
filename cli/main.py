"""Entry point of the ``elasticvit`` command."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

from cli.errors import DEBUG_KEY, ReportingGroup
from cli.options import ConfigOpt, OverrideOpt
from elasticvit.config import load_config, to_params_yaml

# Before Prefect is imported: the platform works offline (no telemetry from a temporary Prefect
# server), and whatever logs through Prefect outside a flow run (deploying, announcing a table)
# stays local.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")

app = typer.Typer(
    help="Train one ElasticViT supernet, then give every device its own fast subnet.",
    no_args_is_help=True,
    cls=ReportingGroup,
)



@app.callback()
def root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", envvar="ELASTICVIT_DEBUG", help="show the traceback of a user error")
    ] = False,
) -> None:
    """Train one ElasticViT supernet, then give every device its own fast subnet."""
    ctx.meta[DEBUG_KEY] = debug


@app.command()
def params(config: ConfigOpt = "quickstart", overrides: OverrideOpt = None, out: Path = Path("params.yaml")) -> None:
    """Validate a config and write it as DVC's params.yaml."""
    cfg = load_config(config, overrides)
    to_params_yaml(cfg, out)
    typer.echo(f"wrote {out}")


@app.command()
def prepare(config: ConfigOpt = "quickstart", overrides: OverrideOpt = None) -> None:
    """Prepare the dataset splits (Prefect flow, recorded in MLflow)."""
    load_config(config, overrides)
    from flows.stages import prepare_flow

    typer.echo(prepare_flow(config, overrides or []).model_dump_json(indent=2))


@app.command()
def train(config: ConfigOpt = "quickstart", overrides: OverrideOpt = None) -> None:
    """Train (or resume) the supernet (Prefect flow, recorded in MLflow)."""
    load_config(config, overrides)
    from flows.stages import train_flow

    typer.echo(train_flow(config, overrides or []).model_dump_json(indent=2))


@app.command()
def run(config: ConfigOpt = "quickstart", overrides: OverrideOpt = None) -> None:
    """Run the whole pipeline flow."""
    load_config(config, overrides)
    from flows.pipeline import pipeline

    typer.echo(pipeline(config, overrides or []).model_dump_json(indent=2))


@app.command()
def quickstart(
    config: ConfigOpt = "quickstart",
    overrides: OverrideOpt = None,
    state_dir: Path = Path(".stack"),
    prefect_port: int = 4200,
    mlflow_port: int = 5000,
) -> None:
    """Start the local stack (Prefect + MLflow servers), run the pipeline, print a summary."""
    import os

    from infra.stack import mlflow_service, prefect_service, stack_env, start

    load_config(config, overrides)
    prefect_svc = prefect_service(state_dir, port=prefect_port)
    mlflow_svc = mlflow_service(state_dir, port=mlflow_port)
    for service in (prefect_svc, mlflow_svc):
        start(service, state_dir)
    env = stack_env(prefect_svc, mlflow_svc, None)
    os.environ.update(env)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.pipeline import pipeline
    from flows.summary import render_summary

    started = time.perf_counter()
    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
        result = pipeline(config, overrides or [])
    render_summary(result)
    typer.echo(f"pipeline finished in {(time.perf_counter() - started) / 60:.1f} min")
    typer.echo(f"Prefect UI: {env['PREFECT_API_URL'].removesuffix('/api')}")
    typer.echo(f"MLflow UI:  {env['ELASTICVIT_TRACKING_URI']}")
    typer.echo(f"stop the servers with: python -m infra.stack down --state-dir {state_dir}")


def _register_stage_commands() -> None:
    """Sub-commands whose modules import the library lazily, so ``--help`` stays fast."""
    from cli import baseline, device, latency, search, space

    app.add_typer(space.app, name="space")
    app.add_typer(device.app, name="device")
    app.add_typer(latency.app, name="latency")
    app.command(name="search")(search.search)
    app.command(name="timing")(search.timing)
    app.command(name="evaluate")(search.evaluate)
    app.command(name="export")(search.export)
    app.command(name="baseline")(baseline.baseline)
    app.command(name="baseline-compare")(baseline.baseline_compare)


_register_stage_commands()
