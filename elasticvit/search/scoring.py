"""Scoring a subnet with the supernet's shared weights: BN recalibrated, then top-1 on a val subset.

The data a search scores on is fixed once per search (a class-balanced val subset, a few seeded
training batches for BN recalibration) and hashed, so the accuracy cache can tell measurements on
the same data from measurements on other data.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor, nn

from elasticvit.config.experiment import SearchConfig
from elasticvit.data import InMemoryLoader, load_split, read_manifest, resize_batch
from elasticvit.model import Supernet
from elasticvit.space import Arch
from elasticvit.training.bn_calibration import preserved_bn_state
from elasticvit.training.evaluation import evaluate_subnet
from elasticvit.utils.hashing import stable_hash

Batch = tuple[Tensor, Tensor]


class ScoringData(BaseModel):
    """Batches a search calibrates and scores every subnet on, and their hash for the cache key."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    calib_batches: list[Tensor]
    val_batches: list[Batch]
    hash: str
    data_version: str


def scoring_data(data_dir: str | Path, cfg: SearchConfig, device: str | torch.device = "cpu") -> ScoringData:
    """Calibration batches from the train split, a class-balanced subset of the val split.

    Both are fixed by ``cfg.seed``, so every search (every device) scores on the same images, and
    the hash covers the data version and every setting that picks the images.
    """
    manifest = read_manifest(data_dir)
    images, labels = load_split(data_dir, "train")
    calib = InMemoryLoader(
        images, labels, batch_size=cfg.calib_batch_size, shuffle=True, augment=False, drop_last=False,
        generator=torch.Generator().manual_seed(cfg.seed), device=device,
    )
    calib_batches = [x for x, _ in itertools.islice(calib, cfg.calib_batches)]
    val_images, val_labels = load_split(data_dir, "val")
    keep = balanced_subset(np.asarray(val_labels), cfg.val_samples, cfg.seed)
    val = InMemoryLoader(
        val_images[keep], val_labels[keep], batch_size=cfg.eval_batch_size, shuffle=False, augment=False,
        drop_last=False, device=device,
    )
    digest = stable_hash(
        {
            "data_version": manifest.version,
            "val_samples": cfg.val_samples,
            "calib_batches": cfg.calib_batches,
            "calib_batch_size": cfg.calib_batch_size,
            "seed": cfg.seed,
        }
    )
    return ScoringData(calib_batches=calib_batches, val_batches=list(val), hash=digest, data_version=manifest.version)


def balanced_subset(labels: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` images, as equal a number per class as the split allows."""
    if n is None or n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng([seed, 0x5E1EC7])
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    # round-robin over the classes: the first n of this interleaving are balanced
    order = [idx[i] for i in range(max(map(len, per_class))) for idx in per_class if i < len(idx)]
    return np.sort(np.asarray(order[:n]))


class SupernetScorer:
    """Top-1 and loss of a subnet using the supernet's shared weights (``Scorer`` for ``AccuracyEvaluator``).

    Scores on the supernet itself with the arch activated: no copy of the weights per subnet. The
    supernet's BN buffers are restored after each score.
    """

    def __init__(self, supernet: Supernet, data: ScoringData) -> None:
        self.supernet = supernet.eval()
        self.data = data
        self.samples = sum(len(y) for _, y in data.val_batches)

    def __call__(self, arch: Arch) -> tuple[float, float]:
        """(top-1, mean cross-entropy) on the val subset."""
        with preserved_bn_state(self.supernet):
            return evaluate_subnet(self.supernet, arch, self.data.val_batches, self.data.calib_batches)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` intra-op threads (unchanged when None), restoring the previous count."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@torch.no_grad()
def top1(model: nn.Module, batches: Iterable[Batch], resolution: int) -> float:
    """Top-1 accuracy of a standalone model, each batch resized to its input resolution."""
    model.eval()
    correct, count = 0, 0
    for x, y in batches:
        correct += int((model(resize_batch(x, resolution)).argmax(-1) == y).sum())
        count += len(y)
    return correct / max(count, 1)
