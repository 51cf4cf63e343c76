"""What every source returns, and the checks every source's arrays must pass."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from elasticvit.data.errors import DatasetError


@dataclass(frozen=True)
class Part:
    """Images (uint8, N x H x W x 3) with their labels (int64, N)."""

    images: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class RawDataset:
    """A source's data: a pool to split, plus the val/test parts the source itself defines.

    ``val`` and ``test`` are ``None`` where the source has no such part; the prepare stage then
    carves them out of ``pool``.
    """

    pool: Part
    class_names: tuple[str, ...]
    val: Part | None = None
    test: Part | None = None


def checked_part(images: np.ndarray, labels: np.ndarray, num_classes: int, where: str) -> Part:
    """Validate shapes, dtype and label range; name ``where`` in every error."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise DatasetError(f"{where}: 'images' must be N x H x W x 3, got shape {images.shape}")
    if images.dtype != np.uint8:
        raise DatasetError(f"{where}: 'images' must be uint8, got {images.dtype}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DatasetError(f"{where}: 'labels' must be one per image ({len(images)}), got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{where}: 'labels' must be integers, got {labels.dtype}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetError(f"{where}: labels must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]")
    return Part(images=images, labels=labels.astype(np.int64))


def require_every_class(labels: np.ndarray, class_names: tuple[str, ...], where: str, hint: str = "") -> None:
    """Fail when a class in 0..num_classes-1 has no sample (a model could never learn or score it)."""
    counts = np.bincount(labels, minlength=len(class_names))
    empty = [class_names[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        raise DatasetError(f"{where}: class(es) with no images: {', '.join(empty)}{hint}")
