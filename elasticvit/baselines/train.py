"""Training one baseline with the platform's recipe, under a budget in epochs or in wall-clock time.

The recipe is the supernet's (``elasticvit.training.recipe``: optimizer, warm-up and cosine
schedule, Mixup, mixed precision), with label-smoothing cross-entropy (soft-target when Mixup is
on), random crop and flip from ``InMemoryLoader`` and gradient clipping. What the supernet has and a
single model has not (in-place distillation, a sampler, probes, EMA) is left out: a baseline learns
from the labels alone.

A wall-clock budget drives the schedule by elapsed time instead of steps, so the learning rate
still completes its cosine when the budget runs out, however fast the machine is.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from timm.scheduler import CosineLRScheduler
from torch import Tensor, nn

from elasticvit.config.experiment import BaselinesConfig, TrainingConfig
from elasticvit.data import InMemoryLoader
from elasticvit.training.callbacks import TrainCallback
from elasticvit.training.losses import build_losses
from elasticvit.training.recipe import Precision, build_mixup, build_optimizer, build_scheduler
from elasticvit.training.records import EpochMetrics, ProbeResult, StepMetrics

TIME_RESOLUTION = 10_000
"""Scheduler positions over a wall-clock budget: fine enough that the lr changes every step."""

Batch = tuple[Tensor, Tensor]


class Budget(BaseModel):
    """How long a baseline trains: whole passes over the training data, or seconds of training."""

    model_config = ConfigDict(frozen=True)

    epochs: int | None = Field(default=None, ge=1)
    seconds: float | None = Field(default=None, gt=0.0)

    @model_validator(mode="after")
    def _one(self) -> Budget:
        if (self.epochs is None) == (self.seconds is None):
            raise ValueError("a budget is either epochs or seconds, exactly one of them")
        return self

    def describe(self) -> str:
        return f"{self.epochs} epochs" if self.epochs is not None else f"{self.seconds:.0f} s"


class TrainStats(BaseModel):
    """What training cost: steps and epochs run, seconds spent training (evaluation excluded)."""

    model_config = ConfigDict(frozen=True)

    steps: int
    epochs: float
    train_s: float
    images_per_s: float
    final_lr: float


def resolve_budget(
    baselines: BaselinesConfig, training: TrainingConfig, supernet_wall_s: float | None = None
) -> Budget:
    """The budget the config asks for; ``same_as_supernet`` needs the supernet's training wall time."""
    if baselines.budget == "minutes":
        return Budget(seconds=60.0 * baselines.minutes)  # type: ignore[operator]  (validated non-None)
    if baselines.budget == "same_as_supernet":
        if supernet_wall_s is None:
            raise ValueError("baselines.budget is 'same_as_supernet' but the supernet's training time is unknown")
        return Budget(seconds=supernet_wall_s)
    return Budget(epochs=baselines.epochs or training.epochs)


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, as for the supernet."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def train_baseline(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    cfg: TrainingConfig,
    budget: Budget,
    val_batches: Sequence[Batch] = (),
    callbacks: Sequence[TrainCallback] = (),
    name: str = "baseline",
    macs: int = 0,
) -> TrainStats:
    """Train ``model`` in place on ``images``/``labels``; validate after every epoch if batches are given.

    ``model`` must already be on the training device (``resolve_device(cfg.device)``). ``name`` and
    ``macs`` label the per-epoch record the callbacks receive (the baseline is its only probe).
    """
    return _Trainer(model, images, labels, cfg, budget, val_batches, callbacks, name, macs).run()


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable[Batch]) -> tuple[float, float]:
    """(top-1 accuracy, mean cross-entropy) in eval mode; the model's mode is restored after."""
    was_training = model.training
    model.eval()
    correct, loss, count = 0, 0.0, 0
    for x, y in batches:
        logits = model(x).float()
        correct += int((logits.argmax(-1) == y).sum())
        loss += float(F.cross_entropy(logits, y, reduction="sum"))
        count += len(y)
    model.train(was_training)
    return correct / max(count, 1), loss / max(count, 1)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed the global torch and numpy generators for the block, then restore the caller's state.

    timm draws weight initialisation and drop-path from torch's global generator, and Mixup from
    numpy's; forking them keeps a baseline reproducible without changing anyone else's randomness.
    """
    numpy_state = np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)


class _Trainer:
    def __init__(
        self,
        model: nn.Module,
        images: Tensor,
        labels: Tensor,
        cfg: TrainingConfig,
        budget: Budget,
        val_batches: Sequence[Batch],
        callbacks: Sequence[TrainCallback],
        name: str,
        macs: int,
    ) -> None:
        self.model, self.images, self.labels, self.cfg, self.budget = model, images, labels, cfg, budget
        self.val_batches, self.callbacks, self.name, self.macs = val_batches, callbacks, name, macs
        self.device = next(model.parameters()).device
        full = len(labels) // cfg.batch_size
        if full == 0:
            raise ValueError(f"{len(labels)} training images do not fill one batch of {cfg.batch_size}")
        self.steps_per_epoch = min(full, cfg.max_steps_per_epoch or full)
        self.total_steps = budget.epochs * self.steps_per_epoch if budget.epochs else None
        self.optimizer = build_optimizer(model, cfg)
        self.scheduler = self._scheduler()
        self.mixup = build_mixup(cfg, model.num_classes)
        self.criterion = build_losses(cfg, soft_labels=self.mixup is not None).anchor
        self.precision = Precision(self.device, cfg)

    def _scheduler(self) -> CosineLRScheduler:
        """Warm-up takes the same share of the budget as in the supernet's schedule."""
        cfg = self.cfg
        horizon = self.budget.epochs * self.steps_per_epoch if self.budget.epochs else TIME_RESOLUTION
        return build_scheduler(self.optimizer, cfg, horizon, round(cfg.warmup_epochs / cfg.epochs * horizon))

    def run(self) -> TrainStats:
        step, epoch, train_s = 0, 0, 0.0
        with seeded(self.cfg.seed):
            self.model.train()
            while not self._spent(epoch, train_s):
                sums: dict[str, float] = {}
                count = 0
                started = time.perf_counter()
                for x, y in itertools.islice(self._loader(epoch), self.steps_per_epoch):
                    step += 1
                    count += 1
                    loss = self._step(x, y)
                    elapsed = train_s + time.perf_counter() - started
                    self.scheduler.step_update(self._position(step, elapsed))
                    metrics = {"loss": loss, "lr": self.optimizer.param_groups[0]["lr"]}
                    for key, value in metrics.items():
                        sums[key] = sums.get(key, 0.0) + value
                    for cb in self.callbacks:
                        cb.on_step(StepMetrics(step=step, total_steps=self.total_steps, epoch=epoch, level=None,
                                               arch_ids=[self.name], metrics=metrics))
                    if self.budget.seconds is not None and elapsed >= self.budget.seconds:
                        break
                # the clock stops for validation: it is not training, and a baseline is not charged for it
                train_s += time.perf_counter() - started
                if self.budget.seconds is not None and self._spent(epoch, train_s):
                    # the clock read after the last step can cross the budget that the step's own reading did not
                    self.scheduler.step_update(self._position(step, train_s))
                epoch += 1
                self._end_epoch(epoch, step, {k: v / count for k, v in sums.items()})
        images = step * self.cfg.batch_size
        return TrainStats(
            steps=step, epochs=step / self.steps_per_epoch, train_s=train_s,
            images_per_s=images / train_s if train_s > 0 else 0.0, final_lr=self.optimizer.param_groups[0]["lr"],
        )

    def _spent(self, epoch: int, train_s: float) -> bool:
        if self.budget.epochs is not None:
            return epoch >= self.budget.epochs
        return train_s >= self.budget.seconds  # type: ignore[operator]  (one of the two is set)

    def _position(self, step: int, elapsed_s: float) -> int:
        if self.budget.epochs is not None:
            return step
        return round(min(elapsed_s / self.budget.seconds, 1.0) * TIME_RESOLUTION)  # type: ignore[operator]

    def _loader(self, epoch: int) -> InMemoryLoader:
        # the same per-epoch generator seeding as the supernet's loop
        return InMemoryLoader(
            self.images, self.labels, batch_size=self.cfg.batch_size, shuffle=True, augment=True, flip=self.cfg.hflip,
            drop_last=True, generator=torch.Generator().manual_seed(self.cfg.seed * 100_003 + epoch), device=self.device,
        )

    def _step(self, x: Tensor, y: Tensor) -> float:
        inputs, targets = self.mixup(x, y) if self.mixup else (x, y)
        self.optimizer.zero_grad(set_to_none=True)
        with self.precision.autocast():
            logits = self.model(inputs).float()
        loss = self.criterion(logits, targets)
        scaler = self.precision.scaler
        scaler.scale(loss).backward()
        if self.cfg.grad_clip:
            scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        scaler.step(self.optimizer)
        scaler.update()
        # float() waits for the device, so the clock measures finished work
        return float(loss.detach())

    def _end_epoch(self, epoch: int, step: int, train: dict[str, float]) -> None:
        if not self.val_batches:
            return
        accuracy, loss = evaluate(self.model, self.val_batches)
        # the baseline is its own single probe, so the supernet's epoch record fits it unchanged
        probe = ProbeResult(name=self.name, arch_id=self.name, level=0, macs=self.macs, accuracy=accuracy, loss=loss)
        record = EpochMetrics(epoch=epoch, step=step, probes=[probe], per_level={self.name: accuracy}, train=train)
        for cb in self.callbacks:
            cb.on_epoch(record)
