"""What a baseline run leaves behind: its cost, its accuracy, and its latency on every device."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from elasticvit.baselines.train import Budget, TrainStats
from elasticvit.latency.measure import Measurement, Statistic
from elasticvit.utils.atomic import write_text


class BaselineResult(BaseModel):
    """One trained baseline, evaluated on val (and test when the data has it) and timed per device."""

    model_config = ConfigDict(frozen=True)

    model: str
    num_classes: int
    resolution: int
    params: int
    macs: int
    budget: Budget
    train: TrainStats
    val_accuracy: float
    val_loss: float
    test_accuracy: float | None
    test_loss: float | None
    latency: dict[str, Measurement]
    """Device name -> end-to-end latency at the device's batch size, on its backend."""
    statistic: Statistic
    """The figure of each measurement that counts (``latency.statistic``, as for the subnets)."""
    weights: Path
    """The trained state dict (loadable with ``create_baseline(model, num_classes, weights)``)."""

    def latency_ms(self, device: str) -> float:
        if device not in self.latency:
            raise KeyError(f"baseline '{self.model}' was not measured on device '{device}' (measured: {sorted(self.latency)})")
        return self.latency[device].value(self.statistic)

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_text(path, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BaselineResult:
        return cls.model_validate_json(Path(path).read_text())
