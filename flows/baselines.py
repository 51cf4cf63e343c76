"""The baselines stage on its own, behind ``elasticvit baseline`` and ``elasticvit baseline-compare``:
train and time one timm model, or place the trained baselines on every device's Pareto plot.

The pipeline runs the same tasks inside its own flow (``flows.pipeline``); these flows serve a
baseline trained, or a comparison redone, outside it.
"""

from __future__ import annotations

from pathlib import Path

from elasticvit.config import ExperimentConfig, load_config
from elasticvit.config.io import validate_config
from elasticvit.data import read_manifest
from elasticvit.latency.registry import experiment_devices
from elasticvit.layout import RESULT_NAME, baseline_dir, search_result_path
from flows.parameters import OptionalPath, Override, Text
from flows.redacted import flow
from tasks.baselines import baseline_marker, compare_baselines_task, train_baseline_task
from tasks.caching import refresh_if_missing
from tasks.records import BaselineRecord, ComparisonRecord


def baseline_config(
    cfg: ExperimentConfig,
    model: str,
    checkpoint: Path | None = None,
    epochs: int | None = None,
    minutes: float | None = None,
) -> ExperimentConfig:
    """``cfg`` with its baselines section narrowed to ``model``: its initial weights, and the budget
    in epochs or minutes when one is given (else the config's)."""
    section = cfg.baselines.model_dump(mode="json")
    section["models"] = [model]
    section["checkpoints"] = {model: str(checkpoint)} if checkpoint else {}
    if epochs is not None:
        section.update(budget="epochs", epochs=epochs)
    if minutes is not None:
        section.update(budget="minutes", minutes=minutes)
    return validate_config({**cfg.model_dump(mode="json"), "baselines": section}, "the baseline command's options")


@flow(name="elasticvit-baseline", log_prints=True)
def baseline_flow(
    model: Text,
    config: Text = "quickstart",
    overrides: list[Override] | None = None,
    checkpoint: OptionalPath = None,
    epochs: int | None = None,
    minutes: float | None = None,
    supernet_seconds: float | None = None,
) -> BaselineRecord:
    """Train ``model`` on the prepared data with the platform's recipe, evaluate it, time it on every
    device (cached while its result exists). ``supernet_seconds`` is the supernet's training wall
    time, for ``baselines.budget=same_as_supernet``."""
    cfg = baseline_config(load_config(config, overrides), model, checkpoint, epochs, minutes)
    data_dir = Path(cfg.data.output_dir).resolve()
    task = refresh_if_missing(train_baseline_task, baseline_marker(cfg, model))
    return task(cfg, model, str(data_dir), read_manifest(data_dir).version, supernet_wall_s=supernet_seconds)


def comparison_inputs(cfg: ExperimentConfig, search_results: list[str] | None = None) -> tuple[list[Path], list[Path]]:
    """The result files a comparison reads: every baseline of ``baselines.models``, and the given
    search results (default: ``<search.output_dir>/<device>/result.json`` of every device)."""
    baselines = [baseline_dir(cfg.baselines.output_dir, m) / RESULT_NAME for m in cfg.baselines.models]
    if search_results:
        return baselines, [Path(p) for p in search_results]
    return baselines, [search_result_path(cfg.search, d) for d in experiment_devices(cfg)]


@flow(name="elasticvit-baseline-compare", log_prints=True)
def baseline_compare_flow(
    config: Text = "quickstart",
    overrides: list[Override] | None = None,
    search_results: list[Text] | None = None,
) -> ComparisonRecord:
    """Place the trained baselines on every device's Pareto plot; write and log the comparison table."""
    cfg = load_config(config, overrides)
    baselines, searches = comparison_inputs(cfg, search_results)
    return compare_baselines_task(cfg, [str(p) for p in baselines], [str(p) for p in searches])
