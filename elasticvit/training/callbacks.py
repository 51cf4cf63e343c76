"""How progress and metrics leave the training loop (the Prefect task implements this with MLflow).

Callbacks run on rank 0 only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from elasticvit.training.records import EpochMetrics, StepMetrics


@runtime_checkable
class TrainCallback(Protocol):
    def on_step(self, record: StepMetrics) -> None: ...

    def on_epoch(self, record: EpochMetrics) -> None: ...

    def on_checkpoint(self, path: Path, step: int) -> None: ...


class NoOpCallback:
    def on_step(self, record: StepMetrics) -> None:
        pass

    def on_epoch(self, record: EpochMetrics) -> None:
        pass

    def on_checkpoint(self, path: Path, step: int) -> None:
        pass


class ProgressCallback:
    """A tqdm bar over all steps, with the latest loss and gradient cosine, and a line per epoch.

    The bar opens at the first step, sized from the record (a resumed run starts part-way)."""

    def __init__(self) -> None:
        self._bar: Any = None

    def on_step(self, record: StepMetrics) -> None:
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=record.total_steps, initial=record.step - 1, unit="step", dynamic_ncols=True)
        shown = {k: record.metrics[k] for k in ("loss", "grad_cos_prev_step") if k in record.metrics}
        self._bar.set_postfix({k: f"{v:.3f}" for k, v in shown.items()}, refresh=False)
        self._bar.update(record.step - self._bar.n)

    def on_epoch(self, record: EpochMetrics) -> None:
        levels = " ".join(f"{k}={v:.3f}" for k, v in record.per_level.items())
        if self._bar is not None:
            self._bar.write(f"epoch {record.epoch}: {levels}")

    def on_checkpoint(self, path: Path, step: int) -> None:
        pass

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> ProgressCallback:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
