"""Deterministic, stratified train/val/test splits."""

from __future__ import annotations

import numpy as np


def stratified_split(
    labels: np.ndarray,
    num_classes: int,
    fractions: dict[str, float],
    seed: int,
    max_per_class: int | None = None,
) -> dict[str, np.ndarray]:
    """Split indices per class by ``fractions`` (e.g. {"val": 0.1, "test": 0.1}); the rest is train.

    The classes are shuffled in label order by one generator seeded with ``seed``, so the split
    depends on the seed and the labels only. ``max_per_class`` keeps the first images of each
    shuffled class, so a capped split is a random sample, not the file's first images. Each named split gets at least one image of every class that
    has enough images to spare one for training.
    """
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in ["train", *fractions]}
    for c in range(num_classes):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        if max_per_class is not None:
            idx = idx[:max_per_class]
        start = 0
        for name, frac in fractions.items():
            n = int(round(frac * len(idx)))
            n = max(n, 1) if len(idx) - start > 1 else 0
            parts[name].append(idx[start : start + n])
            start += n
        parts["train"].append(idx[start:])
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}
