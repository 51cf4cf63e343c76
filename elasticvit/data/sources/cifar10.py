"""CIFAR-10 from its official archive (python pickles), downloaded once and MD5-verified."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np

from elasticvit.config import DataConfig
from elasticvit.data.download import fetch_verified
from elasticvit.data.errors import DatasetError
from elasticvit.data.sources.base import Part, RawDataset, checked_part

_DIR = "cifar-10-batches-py"
_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
_TEST = "test_batch"
_META = "batches.meta"


def load_cifar10(cfg: DataConfig) -> RawDataset:
    cache = Path(cfg.path or "artifacts/downloads")
    archive = fetch_verified(cfg.url, cache / Path(cfg.url).name, cfg.md5)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {m.name: m for m in tar.getmembers()}
            names = _class_names(_read_pickle(tar, members, _META))
            train = [_batch(tar, members, name, len(names)) for name in _TRAIN]
            test = _batch(tar, members, _TEST, len(names))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DatasetError(f"{archive}: unreadable archive: {exc}") from exc
    pool = Part(np.concatenate([p.images for p in train]), np.concatenate([p.labels for p in train]))
    return RawDataset(pool=pool, class_names=names, test=test)


def _read_pickle(tar: tarfile.TarFile, members: dict, name: str) -> dict:
    key = f"{_DIR}/{name}"
    if key not in members:
        raise DatasetError(f"CIFAR-10 archive: missing member '{key}'")
    # The official format is pickle. Unpickling is safe here only because the archive's MD5 was
    # verified against the published checksum before this point.
    with tar.extractfile(members[key]) as fh:
        return pickle.load(fh, encoding="bytes")


def _class_names(meta: dict) -> tuple[str, ...]:
    if b"label_names" not in meta:
        raise DatasetError("CIFAR-10 archive: batches.meta has no 'label_names'")
    return tuple(n.decode() for n in meta[b"label_names"])


def _batch(tar: tarfile.TarFile, members: dict, name: str, num_classes: int) -> Part:
    batch = _read_pickle(tar, members, name)
    for field in (b"data", b"labels"):
        if field not in batch:
            raise DatasetError(f"CIFAR-10 archive: {name} has no '{field.decode()}'")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(f"CIFAR-10 archive: {name} 'data' must be N x 3072, got {data.shape}")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # stored planar (CHW) per image
    return checked_part(images, np.asarray(batch[b"labels"]), num_classes, f"CIFAR-10 {name}")
