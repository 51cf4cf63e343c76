"""Arrays in .npz files: ``images`` (uint8, N x H x W x 3) and ``labels`` (integers)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from elasticvit.data.errors import DatasetError
from elasticvit.data.sources.base import Part, RawDataset, checked_part


def load_npz(path: Path | None) -> RawDataset:
    """``path`` is one .npz file, or a directory with ``train.npz`` and optionally a held-out file.

    In a directory, ``test.npz`` (or else ``val.npz``) is kept as the test split, untouched by
    training and search; the validation split for search is always carved out of ``train.npz``.
    """
    if path is None or not Path(path).exists():
        raise DatasetError(f"data.path: npz source not found: {path}")
    path = Path(path)
    if path.is_file():
        train_file, held_out = path, None
    else:
        train_file = path / "train.npz"
        if not train_file.exists():
            raise DatasetError(f"{path}: expected train.npz in the directory")
        held_out = next((path / n for n in ("test.npz", "val.npz") if (path / n).exists()), None)
    raw_names, pool = _read(train_file)
    names = raw_names or tuple(str(i) for i in range(int(pool[1].max()) + 1 if len(pool[1]) else 0))
    test = None
    if held_out is not None:
        _, (images, labels) = _read(held_out)
        test = checked_part(images, labels, len(names), str(held_out))
    return RawDataset(pool=checked_part(*pool, len(names), str(train_file)), class_names=names, test=test)


def read_npz_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one .npz file, checked (used by evaluation on user-given data too)."""
    names, (images, labels) = _read(path)
    part = checked_part(images, labels, len(names) if names else int(np.max(labels)) + 1, str(path))
    return part.images, part.labels


def _read(path: Path) -> tuple[tuple[str, ...] | None, tuple[np.ndarray, np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("images", "labels") if k not in data.files]
            if missing:
                raise DatasetError(f"{path}: missing array(s) {', '.join(missing)} (has {', '.join(data.files)})")
            names = tuple(str(n) for n in data["class_names"]) if "class_names" in data.files else None
            return names, (data["images"], data["labels"])
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"{path}: not a readable .npz file: {exc}") from exc
