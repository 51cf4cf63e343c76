"""Where an experiment's artifacts live: the one module that spells their file names.

Every path derives from an output folder of the config (``data.output_dir``,
``training.output_dir``, ``latency.output_dir``, ``search.output_dir``, ``search.export_dir``);
stages, tasks, flows, the CLI and the benchmarks ask here rather than joining names themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

from elasticvit.config.experiment import BaselinesConfig, SearchConfig

MANIFEST_NAME = "manifest.json"
"""A prepared dataset's manifest, written last (its presence means the splits are complete)."""
SUPERNET_NAME = "supernet.pt"
TABLE_NAME = "table.json"
VALIDATION_NAME = "validation.json"
RESULT_NAME = "result.json"
"""A device search's result, and a baseline's."""
EXPORTS_NAME = "exports.json"
TIMING_NAME = "timing.json"


def manifest_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / MANIFEST_NAME


def supernet_path(training_dir: str | os.PathLike[str]) -> Path:
    """The trained supernet in ``training.output_dir``."""
    return Path(training_dir) / SUPERNET_NAME


def table_path(latency_dir: str | os.PathLike[str], device: str) -> Path:
    """A device's latency table: ``<latency.output_dir>/<device>/table.json``."""
    return Path(latency_dir) / device / TABLE_NAME


def validation_path(table: str | os.PathLike[str]) -> Path:
    """The validation report of the table at ``table``: ``validation.json`` beside it."""
    return Path(table).with_name(VALIDATION_NAME)


def device_dir(search: SearchConfig, device: str) -> Path:
    """A device's search folder: ``<search.output_dir>/<device>/``."""
    return Path(search.output_dir) / device


def search_result_path(search: SearchConfig, device: str) -> Path:
    return device_dir(search, device) / RESULT_NAME


def timing_path(search: SearchConfig, device: str) -> Path:
    """The interleaved timing of a device's chosen subnets, front and baselines."""
    return device_dir(search, device) / TIMING_NAME


def search_front_path(search: SearchConfig, device: str) -> Path:
    """The plot of a device's searched Pareto front."""
    return device_dir(search, device) / "front.png"


def export_dir(search: SearchConfig, device: str) -> Path:
    """A device's exported models: ``<search.export_dir>/<device>/``."""
    return Path(search.export_dir) / device


def exports_path(search: SearchConfig, device: str) -> Path:
    return export_dir(search, device) / EXPORTS_NAME


def export_metrics_path(search: SearchConfig, device: str) -> Path:
    """A device's export figures for DVC: ``<search.export_dir>/metrics/<device>.json``."""
    return Path(search.export_dir) / "metrics" / f"{device}.json"


def baseline_dir(baselines_dir: str | os.PathLike[str], model: str) -> Path:
    """One baseline's weights and result: ``<baselines.output_dir>/models/<model>/``."""
    return Path(baselines_dir) / "models" / model


def trained_baselines(baselines: BaselinesConfig) -> dict[str, Path]:
    """Model -> its ``result.json``, for the configured baselines trained so far."""
    found = {m: baseline_dir(baselines.output_dir, m) / RESULT_NAME for m in baselines.models}
    return {m: path for m, path in found.items() if path.exists()}
