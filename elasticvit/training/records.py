"""Typed records that leave the training loop: per-step and per-epoch metrics, the result."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class StepMetrics(Record):
    """One optimizer step. ``metrics`` holds losses, lr and gradient telemetry (floats only)."""

    step: int  # global step, counted from 1
    total_steps: int | None  # of the whole run (None: it ends on a clock), for progress displays
    epoch: int
    level: int | None
    arch_ids: list[str]
    metrics: dict[str, float]


class ProbeResult(Record):
    """Validation of one probe subnet."""

    name: str  # "smallest", "largest" or "level{L}-{i}"
    arch_id: str
    level: int
    macs: int
    accuracy: float
    loss: float


class EpochMetrics(Record):
    epoch: int
    step: int
    probes: list[ProbeResult]
    per_level: dict[str, float]  # "smallest", "largest", "level0".. -> mean top-1 of its probes
    train: dict[str, float]  # epoch means of the step metrics


class ReplicaFingerprint(Record):
    """What one rank ended with, so a caller can check that the replicas never diverged."""

    rank: int
    weights_sha256: str
    archs_sha256: str  # over the ids of every subnet trained, in order


class TrainResult(Record):
    checkpoint: Path  # the final supernet (``supernet.pt``)
    steps: int
    epochs: int
    wall_time_s: float  # of this process, resumed runs count only their own part
    resumed_from_step: int
    final_metrics: dict[str, float]
    best_metrics: dict[str, float]
    final_probes: list[ProbeResult]
    grad_cos_prev_step_mean: float | None
    scoring_forwards: int  # no-grad forwards the sampler spent (performance-aware only)
    replicas: list[ReplicaFingerprint]
