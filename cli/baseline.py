"""``elasticvit baseline``: train a timm model on the prepared data, time it on every device.

The library is imported inside the command so that ``elasticvit --help`` does not load torch.
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
    from elasticvit.config.io import validate_config
    from elasticvit.data import read_manifest
    from elasticvit.layout import manifest_path
    from tasks.baselines import baseline_marker, train_baseline_task
    from tasks.caching import refresh_if_missing

    if epochs is not None and minutes is not None:
        fail("give --epochs or --minutes, not both")
    check_model_name(model)
    cfg = load_config(config, overrides)
    section = cfg.baselines.model_dump(mode="json")
    section["models"] = [model]
    section["checkpoints"] = {model: str(checkpoint)} if checkpoint else {}
    if epochs is not None:
        section.update(budget="epochs", epochs=epochs)
    if minutes is not None:
        section.update(budget="minutes", minutes=minutes)
    cfg = validate_config({**cfg.model_dump(mode="json"), "baselines": section}, "the baseline command's options")
    data_dir = Path(cfg.data.output_dir).resolve()
    if not manifest_path(data_dir).exists():
        fail(f"no prepared data in {data_dir}: run `elasticvit prepare -c {config}` first")
    task = refresh_if_missing(train_baseline_task, baseline_marker(cfg, model))
    result = task(cfg, model, str(data_dir), read_manifest(data_dir).version, supernet_wall_s=supernet_seconds)
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
    from elasticvit.latency.registry import experiment_devices
    from elasticvit.layout import RESULT_NAME, baseline_dir, search_result_path
    from tasks.baselines import compare_baselines_task

    cfg = load_config(config, overrides)
    searches = search_results or [search_result_path(cfg.search, d) for d in experiment_devices(cfg)]
    baselines = [baseline_dir(cfg.baselines.output_dir, m) / RESULT_NAME for m in cfg.baselines.models]
    missing = [str(p) for p in [*searches, *baselines] if not p.exists()]
    if missing:
        fail(f"missing results (run the search and `elasticvit baseline` first): {', '.join(missing)}")
    result = compare_baselines_task(cfg, [str(p) for p in baselines], [str(p) for p in searches])
    typer.echo(result.model_dump_json(indent=2))
