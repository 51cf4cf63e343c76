"""``elasticvit search | timing | evaluate | export``: per-device search, interleaved timing, scoring and export
of the chosen subnets.

Plain functions; ``cli/main.py`` registers them with ``app.command()``. The library is imported
inside the commands so that ``elasticvit --help`` does not load torch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.options import ConfigOpt, DataOpt, DevicesOpt, OverrideOpt, SupernetOpt
from elasticvit.config import ExperimentConfig, load_config


def search(
    devices: DevicesOpt = None,
    config: ConfigOpt = "quickstart",
    overrides: OverrideOpt = None,
    supernet: SupernetOpt = None,
    data: DataOpt = None,
    allow_noisy_latency: Annotated[
        bool, typer.Option("--allow-noisy-latency", help="search on a table its validation called noise "
                           "(search.allow_noisy_latency)")
    ] = False,
) -> None:
    """Search each device's best subnet per latency budget; write result.json and front.png.

    A table whose validation found the device disagreeing with itself is refused, with the reason,
    unless --allow-noisy-latency.
    """
    if allow_noisy_latency:
        overrides = [*(overrides or []), "search.allow_noisy_latency=true"]

    def one(cfg: ExperimentConfig, device: str) -> dict:
        from elasticvit.layout import search_result_path
        from elasticvit.search.run import run_search

        result = run_search(cfg, device, supernet_path=supernet, data_dir=data)
        return {
            "result": str(search_result_path(cfg.search, device)),
            "measured": result.measured,
            "cache_hits": result.cache_hits,
            "search_s": round(result.search_s, 1),
            "budgets": [
                {"budget_ms": b.budget_ms, "arch_id": b.arch_id, "predicted_ms": b.predicted_ms,
                 "measured_ms": b.measured_ms, "val_accuracy": b.val_accuracy}
                for b in result.budgets
            ],
        }

    _per_device(config, overrides, devices, one)


def timing(
    devices: DevicesOpt = None,
    config: ConfigOpt = "quickstart",
    overrides: OverrideOpt = None,
    supernet: SupernetOpt = None,
) -> None:
    """Time each device's chosen subnets, part of its searched front and the trained baselines in one
    interleaved run on the device; write timing.json beside the search result (the export and the
    comparison then use these latencies)."""

    def one(cfg: ExperimentConfig, device: str) -> list[dict]:
        from elasticvit.baselines import BaselineResult
        from elasticvit.baselines.interleaved import time_front
        from elasticvit.layout import search_result_path, supernet_path, timing_path, trained_baselines
        from elasticvit.search import DeviceSearchResult

        baselines = [BaselineResult.load(p) for p in trained_baselines(cfg.baselines).values()]
        result = time_front(cfg, DeviceSearchResult.load(search_result_path(cfg.search, device)),
                            supernet or supernet_path(cfg.training.output_dir), baselines)
        result.save(timing_path(cfg.search, device))
        return [m.model_dump(mode="json") for m in result.models]

    _per_device(config, overrides, devices, one)


def export(
    devices: DevicesOpt = None,
    config: ConfigOpt = "quickstart",
    overrides: OverrideOpt = None,
    supernet: SupernetOpt = None,
    data: DataOpt = None,
) -> None:
    """Export each device's chosen subnets: ONNX (parity-checked), checkpoint, model card."""

    def one(cfg: ExperimentConfig, device: str) -> list[dict]:
        from elasticvit.export import run_export

        report = run_export(cfg, device, supernet_path=supernet, data_dir=data)
        return [
            {"name": m.name, "test_accuracy": m.test_accuracy, "onnx_max_abs_diff": m.onnx_max_abs_diff,
             "onnx": str(m.onnx), "checkpoint": str(m.checkpoint), "card": str(m.card)}
            for m in report.models
        ]

    _per_device(config, overrides, devices, one)


def evaluate(
    models: Annotated[
        list[Path] | None,
        typer.Argument(help="model files (.pt or .onnx); default: every exported model of the devices"),
    ] = None,
    test_data: Annotated[
        Path | None,
        typer.Option("--test-data", help="npz with 'images' (uint8 N x H x W x 3) and 'labels' (default: the "
                     "prepared test split)"),
    ] = None,
    devices: DevicesOpt = None,
    config: ConfigOpt = "quickstart",
    overrides: OverrideOpt = None,
) -> None:
    """Score exported models on the test split or on your own npz; print top-1 per model as JSON."""
    from elasticvit.data import load_split
    from elasticvit.export import ExportReport, evaluate_files, load_npz
    from elasticvit.layout import exports_path

    cfg = load_config(config, overrides)
    if models:
        named = {str(p): p for p in models}
    else:
        named = {}
        for device in _devices(cfg, devices):
            report_path = exports_path(cfg.search, device)
            if not report_path.exists():
                raise FileNotFoundError(f"{report_path}: no exports for '{device}'; run `elasticvit export` first")
            named.update({m.name: m.checkpoint for m in ExportReport.load(report_path).models})
    images, labels = load_npz(test_data) if test_data else load_split(cfg.data.output_dir, "test")
    scores = evaluate_files(named.values(), images, labels)
    result = {name: scores[str(path)] for name, path in named.items()}
    typer.echo(json.dumps({"data": str(test_data or Path(cfg.data.output_dir) / "test.npz"), "images": len(labels),
                           "top1": result}, indent=2))


def _per_device(
    config: str, overrides: list[str] | None, devices: list[str] | None,
    one: Callable[[ExperimentConfig, str], Any],
) -> None:
    """Run ``one`` for each device; print the per-device results as JSON."""
    cfg = load_config(config, overrides)
    summary = {device: one(cfg, device) for device in _devices(cfg, devices)}
    typer.echo(json.dumps(summary, indent=2))


def _devices(cfg: ExperimentConfig, devices: list[str] | None) -> list[str]:
    from elasticvit.latency.registry import experiment_devices

    return list(devices or experiment_devices(cfg))
