"""``elasticvit latency``: collect a device's block latency table, validate its predictor.

The library is imported inside the commands so that ``elasticvit --help`` does not load torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.options import ConfigOpt, DevicesOpt, OverrideOpt
from elasticvit.config import ConfigError, load_config

app = typer.Typer(help="Per-device latency tables and predictor validation.", no_args_is_help=True)

SpaceOpt = Annotated[
    str | None, typer.Option("--space", help="search space name or YAML path (default: the config's)")
]
ClassesOpt = Annotated[
    int | None,
    typer.Option("--num-classes", min=1, help="classes of the head block (default: from the prepared data)"),
]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="show progress bars")]


@app.command()
def collect(
    device: Annotated[str, typer.Option("--device", "-d", help="name in elasticvit/configs/devices or a YAML path")],
    config: ConfigOpt = "quickstart",
    overrides: OverrideOpt = None,
    space: SpaceOpt = None,
    num_classes: ClassesOpt = None,
    output: Annotated[
        Path | None, typer.Option(help="table path (default: <latency.output_dir>/<device>/table.json)")
    ] = None,
    progress: ProgressOpt = True,
    announce: Annotated[
        bool,
        typer.Option(help="emit the new-table event to the Prefect API (PREFECT_API_URL), which triggers "
                     "the device's search deployment"),
    ] = False,
) -> None:
    """Measure every block of the space on DEVICE and write its latency table (resumable)."""
    from elasticvit.data import read_manifest
    from elasticvit.latency import collect_table, table_path
    from elasticvit.latency.registry import device_spec
    from elasticvit.layout import manifest_path
    from elasticvit.space import load_space

    cfg = load_config(config, overrides)
    spec = device_spec(cfg, device)
    path = output or table_path(cfg.latency.output_dir, spec.name)
    search_space = load_space(space or cfg.space.name)
    if num_classes is None:
        if not manifest_path(cfg.data.output_dir).exists():
            raise ConfigError(
                f"--num-classes not given and no prepared data in {cfg.data.output_dir} to read it from"
            )
        num_classes = read_manifest(cfg.data.output_dir).num_classes
    table = collect_table(search_space, spec, num_classes, cfg.latency, path, progress)
    c = table.correction
    typer.echo(
        f"{spec.name}: {len(table.entries)} blocks; correction {c.model} (scale {c.scale:.3f}, "
        f"offset {c.offset_ms:.4f} ms) from {c.points} archs -> {path}"
    )
    if announce:
        from elasticvit.utils.hashing import sha256_file
        from tasks.latency import announce_table

        announce_table(cfg, spec.name, path, sha256_file(path))
        typer.echo(f"announced {spec.name}'s table to the Prefect API")


@app.command()
def validate(
    devices: DevicesOpt = None,
    config: ConfigOpt = "quickstart",
    overrides: OverrideOpt = None,
    space: SpaceOpt = None,
    n: Annotated[
        int | None, typer.Option("--n", min=1, help="subnets to measure (default: latency.validate_archs)")
    ] = None,
    progress: ProgressOpt = True,
) -> None:
    """Measure random subnets end to end, compare with the prediction, write report and plot."""
    from elasticvit.latency import (
        LatencyPredictor,
        LatencyTable,
        scatter_plot,
        table_path,
        validate_predictor,
    )
    from elasticvit.latency.registry import device_spec, experiment_devices
    from elasticvit.layout import validation_path
    from elasticvit.space import load_space

    cfg = load_config(config, overrides)
    search_space = load_space(space or cfg.space.name)
    for name in devices or experiment_devices(cfg):
        spec = device_spec(cfg, name)
        path = table_path(cfg.latency.output_dir, spec.name)
        predictor = LatencyPredictor.from_table(LatencyTable.load(path), search_space)
        report = validate_predictor(search_space, predictor, spec, cfg.latency, n, progress)
        report.save(validation_path(path))
        scatter_plot(report, validation_path(path).with_suffix(".png"))
        typer.echo(f"{spec.name}: {report.summary()} -> {validation_path(path)}")
        if warning := report.noise_warning():
            typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
