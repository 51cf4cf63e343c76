"""The supernet's training curve, read from the ``history.json`` the training loop rewrites each epoch.

A row there is ``{"epoch": 1, "smallest": 0.41, "largest": 0.52, "level0": ..., "loss": ..., "lr": ...}``
(``elasticvit.training.loop``): every key besides ``epoch``, ``loss`` and ``lr`` is a probe level's
val top-1.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

NOT_ACCURACY = ("epoch", "loss", "lr")


class TrainingCurve(BaseModel):
    """Per finished epoch: each probe level's val top-1 and the mean train loss."""

    model_config = ConfigDict(frozen=True)

    epochs: list[int]
    accuracy: dict[str, list[float]]
    """Probe level (``smallest``, ``largest``, ``level0``...) -> val top-1 per epoch."""
    loss: list[float] | None = None

    @model_validator(mode="after")
    def _aligned(self) -> TrainingCurve:
        lengths = {len(v) for v in self.accuracy.values()} | ({len(self.loss)} if self.loss is not None else set())
        if lengths - {len(self.epochs)}:
            raise ValueError(f"every series needs one value per epoch ({len(self.epochs)})")
        return self

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, float]]) -> TrainingCurve:
        levels = [k for k in rows[0] if k not in NOT_ACCURACY] if rows else []
        has_loss = bool(rows) and all("loss" in r for r in rows)
        return cls(
            epochs=[int(r["epoch"]) for r in rows],
            accuracy={level: [float(r[level]) for r in rows] for level in levels},
            loss=[float(r["loss"]) for r in rows] if has_loss else None,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrainingCurve:
        return cls.from_rows(json.loads(Path(path).read_text()))
