"""The shared recipe: the schedule's shape, Mixup on demand, fp32 on CPU, and one schedule for both trainers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from elasticvit.baselines.train import Budget, train_baseline
from elasticvit.config.experiment import TrainingConfig
from elasticvit.training.callbacks import NoOpCallback
from elasticvit.training.recipe import LR_FLOOR, Precision, build_mixup, build_optimizer, build_scheduler


def lrs(cfg: TrainingConfig, horizon: int, warmup: int) -> list[float]:
    optimizer = build_optimizer(nn.Linear(4, 2), cfg)
    scheduler = build_scheduler(optimizer, cfg, horizon, warmup)
    out = []
    for position in range(horizon + 1):
        scheduler.step_update(position)
        out.append(optimizer.param_groups[0]["lr"])
    return out


def test_schedule_warms_up_linearly_then_decays_to_the_floor():
    cfg = TrainingConfig(lr=1e-3)
    values = lrs(cfg, horizon=100, warmup=10)
    assert values[0] == pytest.approx(1e-3 * LR_FLOOR)
    assert values[5] == pytest.approx(1e-3 * LR_FLOOR + (1e-3 - 1e-3 * LR_FLOOR) * 0.5)
    assert values[10] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(values[10:], values[11:])), "the cosine only decays"
    assert values[100] == pytest.approx(1e-3 * LR_FLOOR)


def test_mixup_only_when_asked():
    assert build_mixup(TrainingConfig(), 10) is None
    mixup = build_mixup(TrainingConfig(mixup_alpha=0.2, label_smoothing=0.0), 10)
    x, y = mixup(torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3]))
    assert y.shape == (4, 10) and torch.allclose(y.sum(1), torch.ones(4))


def test_cpu_trains_in_fp32_without_a_scaler():
    precision = Precision(torch.device("cpu"), TrainingConfig(amp=True))
    assert precision.dtype is None and not precision.scaler.is_enabled()
    with precision.autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


class _Tiny(nn.Module):
    num_classes = 3

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, 3)

    def forward(self, x):
        return self.fc(x.flatten(1))


def test_a_baseline_follows_the_same_schedule_as_the_supernet():
    cfg = TrainingConfig(epochs=3, batch_size=8, lr=3e-3, warmup_epochs=1)
    images = torch.randint(0, 255, (32, 8, 8, 3), dtype=torch.uint8)
    labels = torch.randint(0, 3, (32,))
    seen = []

    class Record(NoOpCallback):
        def on_step(self, m):
            seen.append(m.metrics["lr"])

    train_baseline(_Tiny(), images, labels, cfg, Budget(epochs=3), callbacks=[Record()])
    steps_per_epoch = 32 // 8
    expected = lrs(cfg, horizon=3 * steps_per_epoch, warmup=steps_per_epoch)[1:]  # read after each step's update
    assert seen == pytest.approx(expected)
