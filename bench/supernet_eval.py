"""What the supernet benchmarks share: the shared CIFAR-10 split, scoring inherited subnets, logging.

``prepare_shared_cifar`` prepares ``shared/data/cifar10``: train.npz is split into train (95 %)
and a small val (5 %, the training loop's probes), val.npz (the official test images) becomes
the test split, on which the benchmarks report every accuracy.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from elasticvit.config.experiment import DataConfig
from elasticvit.data import InMemoryLoader, load_split, prepare_dataset
from elasticvit.model import Supernet
from elasticvit.space import Arch
from elasticvit.training import EpochMetrics, NoOpCallback, StepMetrics, accuracy, evaluate_subnet
from elasticvit.training.bn_calibration import preserved_bn_state

SHARED_CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10"
CALIB_BATCHES = 4
CALIB_BATCH_SIZE = 128

log = logging.getLogger("bench")


def prepare_shared_cifar(out: Path, source: Path = SHARED_CIFAR, per_class: int | None = None) -> Path:
    """``per_class`` caps every split's images per class (smoke runs)."""
    cfg = DataConfig(source="npz", path=source, val_fraction=0.05, max_per_class=per_class, output_dir=out)
    prepare_dataset(cfg, progress=False)
    return out


class SubnetScorer:
    """Top-1 of inherited subnets on one split, BN recalibrated per subnet on fixed training batches
    (the search stage's procedure); the supernet's own BN buffers are restored afterwards."""

    def __init__(self, data_dir: Path, split: str = "test", device: str = "cpu", batch_size: int = 250) -> None:
        self.device = torch.device(device)
        images, labels = load_split(data_dir, "train")
        calib = InMemoryLoader(
            images, labels, batch_size=CALIB_BATCH_SIZE, shuffle=True, augment=False, drop_last=True,
            generator=torch.Generator().manual_seed(0), device=self.device,
        )
        self.calib = [x for x, _ in itertools.islice(calib, CALIB_BATCHES)]
        self.images, self.labels = load_split(data_dir, split)
        self.batch_size = batch_size

    def batches(self, indices: Sequence[int] | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        images, labels = (self.images, self.labels) if indices is None else (self.images[indices], self.labels[indices])
        return list(InMemoryLoader(images, labels, batch_size=self.batch_size, shuffle=False, device=self.device))

    def accuracies(self, model: Supernet, archs: Sequence[Arch]) -> list[float]:
        return [accs[0] for accs in self.split_accuracies(model, archs, [None])]

    def split_accuracies(
        self, model: Supernet, archs: Sequence[Arch], parts: Sequence[Sequence[int] | None]
    ) -> list[list[float]]:
        """Per arch, its accuracy on each part (index lists into the split; None: the whole split),
        all measured after one recalibration."""
        loaders = [self.batches(p) for p in parts]
        out = []
        with preserved_bn_state(model):
            for arch in archs:
                first = evaluate_subnet(model, arch, loaders[0], self.calib)[0]
                out.append([first, *(accuracy(model, arch, b)[0] for b in loaders[1:])])
        return out


class LogProgress(NoOpCallback):
    """A log line every ``every`` steps and per epoch, for a benchmark running under nohup."""

    def __init__(self, name: str, every: int) -> None:
        self.name, self.every, self.started = name, every, time.perf_counter()

    def on_step(self, record: StepMetrics) -> None:
        if record.step % self.every == 0:
            m = record.metrics
            # a wall-clock budget has no step count in advance
            total = "?" if record.total_steps is None else record.total_steps
            # a single model's loop keeps no gradient telemetry: no grad cos to show
            cos = f", grad cos {m['grad_cos_prev_step']:.3f}" if "grad_cos_prev_step" in m else ""
            log.info("%s step %d/%s: loss %.3f%s, %.2f s/step", self.name, record.step, total, m["loss"], cos,
                     (time.perf_counter() - self.started) / self.every)
            self.started = time.perf_counter()

    def on_epoch(self, record: EpochMetrics) -> None:
        log.info("%s epoch %d: %s", self.name, record.epoch, {k: round(v, 4) for k, v in record.per_level.items()})
