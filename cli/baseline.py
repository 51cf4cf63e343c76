"""``elasticvit baseline`` and ``baseline-compare``: the baselines stage's flows (``flows.baselines``).

A baseline is recorded (an MLflow run, a cached Prefect task), so each command runs its flow; the
options are checked here first, so that a mistake costs no flow run. The flows are imported inside
the commands so that ``elasticvit --help`` does not load torch.

Registered on the main app by ``cli/main.py``: ``app.command()(baseline)`` and
``app.command("baseline-compare")(baseline_compare)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.errors import fail
from cli.options import ConfigOpt, OverrideOpt
from elasticvit.config import load_config


def baseline(
    model: Annotated[str, typer.Option("--model", "-m", help="any timm model name (created without pretrained weights)")],
    config: ConfigOpt = "quickstart",
    overrides: OverrideOpt = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="initial weights: a local state dict, loaded with weights_only=True")
    ] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="budget in passes over the training data")] = None,
    minutes: Annotated[float | None, typer.Option(min=0.01, help="budget in minutes of training")] = None,
    supernet_seconds: Annotated[
        float | None,
        typer.Option(min=0.0, help="the supernet's training wall time, for baselines.budget=same_as_supernet"),
    ] = None,
) -> None:
    """Train MODEL with the platform's recipe and budget, evaluate it, time it on every device."""
    from elasticvit.baselines import check_model_name
    from elasticvit.layout import manifest_path
    from flows.baselines import baseline_config, baseline_flow

    if epochs is not None and minutes is not None:
        fail("give --epochs or --minutes, not both")
    check_model_name(model)
    cfg = baseline_config(load_config(config, overrides), model, checkpoint, epochs, minutes)
    data_dir = Path(cfg.data.output_dir).resolve()
    if not manifest_path(data_dir).exists():
        fail(f"no prepared data in {data_dir}: run `elasticvit prepare -c {config}` first")
    result = baseline_flow(model, config, overrides or [], checkpoint, epochs, minutes, supernet_seconds)
    typer.echo(result.model_dump_json(indent=2))


def baseline_compare(
    config: ConfigOpt = "quickstart",
    overrides: OverrideOpt = None,
    search_results: Annotated[
        list[Path] | None,
        typer.Option("--search-result", help="a device's search result JSON (repeatable; default: "
                     "<search.output_dir>/<device>/result.json for every device of the experiment)"),
    ] = None,
) -> None:
    """Put the trained baselines on every device's Pareto plot and write the comparison table."""
    from flows.baselines import baseline_compare_flow, comparison_inputs

    given = [str(p) for p in search_results] if search_results else None
    baselines, searches = comparison_inputs(load_config(config, overrides), given)
    missing = [str(p) for p in [*searches, *baselines] if not p.exists()]
    if missing:
        fail(f"missing results (run the search and `elasticvit baseline` first): {', '.join(missing)}")
    typer.echo(baseline_compare_flow(config, overrides or [], given).model_dump_json(indent=2))
