"""The manifest that describes a prepared dataset, and reading its splits back."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, ValidationError

from elasticvit.data.arrays import read_npz
from elasticvit.data.errors import DatasetError
from elasticvit.layout import manifest_path

SPLITS = ("train", "val", "test")


class Manifest(BaseModel):
    """Written last, so its presence means every split file is complete."""

    model_config = ConfigDict(frozen=True)

    source: str
    num_classes: int
    class_names: list[str]
    resolution: int
    counts: dict[str, dict[str, int]]  # split -> class name -> images
    sha256: dict[str, str]  # file name -> sha256
    config_hash: str  # of the DataConfig, output_dir excluded
    source_digest: str = ""  # (absent in manifests from before it existed) fingerprint of the input files (see elasticvit.data.sources)
    version: str  # one hash over the split files: the data version tags and caches refer to
    created_by: str


def read_manifest(data_dir: str | os.PathLike[str]) -> Manifest:
    path = manifest_path(data_dir)
    if not path.exists():
        raise DatasetError(f"{path}: no manifest; run the prepare stage first")
    try:
        return Manifest.model_validate(json.loads(path.read_text()))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise DatasetError(f"{path}: invalid manifest: {exc}") from exc


def load_split(data_dir: str | os.PathLike[str], split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (uint8, N x H x W x 3) and labels (int64) of one prepared split, as tensors."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split '{split}', expected one of {', '.join(SPLITS)}")
    path = Path(data_dir) / f"{split}.npz"
    if not path.exists():
        raise DatasetError(f"{path}: split file missing; run `elasticvit prepare` to write it")
    data = read_npz(path, ("images", "labels"))
    return torch.from_numpy(data["images"]), torch.from_numpy(data["labels"].astype(np.int64))
