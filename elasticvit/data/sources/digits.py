"""scikit-learn's bundled handwritten digits: real data that needs no network (the quickstart)."""

from __future__ import annotations

import numpy as np

from elasticvit.config import DataConfig
from elasticvit.data.sources.base import RawDataset, checked_part


def load(cfg: DataConfig, progress: bool = False) -> RawDataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    # 8x8 grey levels 0..16 -> uint8 RGB; resizing to the configured resolution happens later.
    grey = np.round(digits.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    images = np.repeat(grey[..., None], 3, axis=-1)
    names = tuple(str(n) for n in digits.target_names)
    return RawDataset(pool=checked_part(images, digits.target, len(names), "digits"), class_names=names)


def digest(cfg: DataConfig) -> str:
    # The data ships inside scikit-learn and has not changed across its releases.
    return "sklearn-digits"
