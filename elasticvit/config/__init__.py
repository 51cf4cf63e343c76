"""Typed configuration: one ``ExperimentConfig`` of sections, plus environment settings."""

from elasticvit.config.experiment import (
    DataConfig,
    ExperimentConfig,
    LatencyConfig,
    SamplingConfig,
    SearchConfig,
    SpaceConfig,
    StorageConfig,
    TrackingConfig,
    TrainingConfig,
)
from elasticvit.config.io import ConfigError, apply_overrides, load_config, to_params_yaml
from elasticvit.config.settings import Settings

__all__ = [
    "ConfigError",
    "DataConfig",
    "ExperimentConfig",
    "LatencyConfig",
    "SamplingConfig",
    "SearchConfig",
    "Settings",
    "SpaceConfig",
    "StorageConfig",
    "TrackingConfig",
    "TrainingConfig",
    "apply_overrides",
    "load_config",
    "to_params_yaml",
]
