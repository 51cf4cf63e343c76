"""Arrays in .npz files: ``images`` (uint8, N x H x W x 3), ``labels`` (integers) and optionally
``class_names`` (strings), as in ``shared/data/cifar10``.

``data.path`` is one .npz file, or a directory with ``train.npz`` and optionally held-out files:

- ``train.npz`` alone, or a single file: train, val and test are all split from it;
- ``train.npz`` + ``test.npz``: test is ``test.npz``; val is split from ``train.npz``;
- ``train.npz`` + ``val.npz``: ``val.npz`` becomes the test split and val is split from
  ``train.npz``. Many datasets publish their held-out set as "val" (ImageNet, the shared CIFAR-10
  copy); searching on it would leave no untouched set to report, so it is kept for testing only;
- ``train.npz`` + ``val.npz`` + ``test.npz``: each is used as given; nothing is carved out.

Held-out files are capped by ``max_per_class`` like the pool, but never subsampled otherwise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from elasticvit.config import DataConfig
from elasticvit.data.arrays import read_npz
from elasticvit.data.errors import DatasetError
from elasticvit.data.sources.base import RawDataset, checked_part
from elasticvit.utils.hashing import sha256_tree


def load(cfg: DataConfig, progress: bool = False) -> RawDataset:
    files = _files(cfg.path)
    names, images, labels = _read(files["train"])
    if names is None:
        names = tuple(str(i) for i in range(int(labels.max()) + 1 if len(labels) else 0))
    pool = checked_part(images, labels, len(names), str(files["train"]))
    held_out = {}
    for split in ("val", "test"):
        if split in files:
            file_names, images, labels = _read(files[split])
            if file_names is not None and file_names != names:
                raise DatasetError(f"{files[split]}: 'class_names' {list(file_names)} differ from train's {list(names)}")
            held_out[split] = checked_part(images, labels, len(names), str(files[split]))
    return RawDataset(pool=pool, class_names=names, **held_out)


def digest(cfg: DataConfig) -> str:
    return sha256_tree(list(_files(cfg.path).values()))


def _files(path: Path | None) -> dict[str, Path]:
    """Which file plays which part (see the module docstring)."""
    if path is None or not Path(path).exists():
        raise DatasetError(f"data.path: npz source not found: {path}")
    path = Path(path)
    if path.is_file():
        return {"train": path}
    files = {split: path / f"{split}.npz" for split in ("train", "val", "test") if (path / f"{split}.npz").is_file()}
    if "train" not in files:
        raise DatasetError(f"{path}: expected train.npz in the directory")
    if "val" in files and "test" not in files:
        files["test"] = files.pop("val")
    return files


def _read(path: Path) -> tuple[tuple[str, ...] | None, np.ndarray, np.ndarray]:
    data = read_npz(path, ("images", "labels"), ("class_names",))
    names = tuple(str(n) for n in data["class_names"]) if "class_names" in data else None
    return names, data["images"], data["labels"]
