"""Dataset sources: each reads raw images and labels into a ``RawDataset``."""

from __future__ import annotations

from elasticvit.config import DataConfig
from elasticvit.data.sources.base import RawDataset


def load_source(cfg: DataConfig) -> RawDataset:
    if cfg.source == "digits":
        from elasticvit.data.sources.digits import load_digits_source

        return load_digits_source()
    if cfg.source == "cifar10":
        from elasticvit.data.sources.cifar10 import load_cifar10

        return load_cifar10(cfg)
    if cfg.source == "npz":
        from elasticvit.data.sources.npz import load_npz

        return load_npz(cfg.path)
    from elasticvit.data.sources.imagefolder import load_imagefolder

    return load_imagefolder(cfg.path)


__all__ = ["RawDataset", "load_source"]
