"""Dataset sources. Each is a module named like its ``DataConfig.source`` value with two functions:

- ``load(cfg, progress) -> RawDataset``: read the raw images and labels, checked (``progress``
  shows a bar for slow reads: downloads, decoding many files);
- ``digest(cfg) -> str``: a cheap fingerprint of the input's content, so a re-run notices a source
  file that changed under the same configured path.

Modules are imported on first use, so scikit-learn or PIL load only for the sources that need them.
"""

from __future__ import annotations

import importlib

from elasticvit.config import DataConfig
from elasticvit.data.sources.base import Part, RawDataset


def load_source(cfg: DataConfig, progress: bool = False) -> RawDataset:
    return importlib.import_module(f"{__name__}.{cfg.source}").load(cfg, progress)


def source_digest(cfg: DataConfig) -> str:
    return importlib.import_module(f"{__name__}.{cfg.source}").digest(cfg)


__all__ = ["Part", "RawDataset", "load_source", "source_digest"]
