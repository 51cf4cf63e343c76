"""CIFAR-10 from its official archive (python pickles), downloaded once and MD5-verified.

The five training batches form the pool that train and val are split from; the official test
batch is kept whole (up to ``max_per_class``) as the test split.
"""

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
# Every global the official archive's pickles name (numpy arrays, and bytes as protocol 2 writes
# them); anything else (a payload calling os.system, say) is refused before it runs.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"), ("_codecs", "encode"),
}


class _Refused(pickle.UnpicklingError):
    pass


class _ArchiveUnpickler(pickle.Unpickler):
    """Unpickles only the plain data and numpy arrays a CIFAR batch holds: the MD5 that gates the
    download comes from the same config as the URL, so it proves nothing about the file's intent."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise _Refused(f"refused global '{module}.{name}': not part of a CIFAR-10 batch")
        return super().find_class(module, name)


def load(cfg: DataConfig, progress: bool = False) -> RawDataset:
    archive = fetch_verified(cfg.url, cache_dir(cfg) / Path(cfg.url).name, cfg.md5, progress)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {m.name: m for m in tar.getmembers()}
            names = _class_names(_read_pickle(tar, members, _META))
            train = [_batch(tar, members, name, len(names)) for name in _TRAIN]
            test = _batch(tar, members, _TEST, len(names))
    except _Refused as exc:
        raise DatasetError(f"{archive}: {exc}; this is not the official CIFAR-10 archive") from None
    except (tarfile.TarError, EOFError, OSError, pickle.UnpicklingError) as exc:
        raise DatasetError(f"{archive}: unreadable archive (truncated or corrupt): {exc}") from exc
    pool = Part(np.concatenate([p.images for p in train]), np.concatenate([p.labels for p in train]))
    return RawDataset(pool=pool, class_names=names, test=test)


def digest(cfg: DataConfig) -> str:
    # The configured MD5 pins the archive's content: a different file is never used.
    return cfg.md5


def cache_dir(cfg: DataConfig) -> Path:
    """``data.path``, else ``downloads/`` beside the output folder (never inside it: the output
    folder holds only the prepared splits, which DVC tracks as one directory)."""
    return Path(cfg.path) if cfg.path is not None else Path(cfg.output_dir).parent / "downloads"


def _read_pickle(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str) -> dict:
    key = f"{_DIR}/{name}"
    if key not in members:
        raise DatasetError(f"CIFAR-10 archive: missing member '{key}'")
    fh = tar.extractfile(members[key])
    if fh is None:
        raise DatasetError(f"CIFAR-10 archive: '{key}' is not a regular file")
    with fh:
        return _ArchiveUnpickler(fh, encoding="bytes").load()


def _class_names(meta: dict) -> tuple[str, ...]:
    if b"label_names" not in meta:
        raise DatasetError("CIFAR-10 archive: batches.meta has no 'label_names'")
    return tuple(n.decode() for n in meta[b"label_names"])


def _batch(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str, num_classes: int) -> Part:
    batch = _read_pickle(tar, members, name)
    for field in (b"data", b"labels"):
        if field not in batch:
            raise DatasetError(f"CIFAR-10 archive: {name} has no '{field.decode()}'")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(f"CIFAR-10 archive: {name} 'data' must be N x 3072, got {data.shape}")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # stored planar (CHW) per image
    return checked_part(images, np.asarray(batch[b"labels"]), num_classes, f"CIFAR-10 {name}")
