"""Conflict-aware supernet training: losses, the loop, checkpoints, BN recalibration, telemetry."""

from __future__ import annotations

from elasticvit.training.bn_calibration import batch_statistics, preserved_bn_state, recalibrate_bn
from elasticvit.training.callbacks import NoOpCallback, ProgressCallback, TrainCallback
from elasticvit.training.checkpoint import SupernetMeta, load_supernet
from elasticvit.training.evaluation import Probe, accuracy, evaluate_subnet, select_probes, validate_probes
from elasticvit.training.loop import pools_for, train_supernet
from elasticvit.training.plots import plot_accuracy_vs_macs
from elasticvit.training.records import EpochMetrics, ProbeResult, StepMetrics, TrainResult

__all__ = [
    "EpochMetrics",
    "NoOpCallback",
    "Probe",
    "ProbeResult",
    "ProgressCallback",
    "StepMetrics",
    "SupernetMeta",
    "TrainCallback",
    "TrainResult",
    "accuracy",
    "batch_statistics",
    "evaluate_subnet",
    "load_supernet",
    "plot_accuracy_vs_macs",
    "pools_for",
    "preserved_bn_state",
    "recalibrate_bn",
    "select_probes",
    "train_supernet",
    "validate_probes",
]
