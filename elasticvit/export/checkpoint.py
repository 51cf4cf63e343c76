"""The exported subnet as a weights-only checkpoint that carries its arch, verified by reloading it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from elasticvit.errors import ElasticViTError
from elasticvit.model import SubnetModel, load_subnet, save_subnet


class CheckpointError(ElasticViTError, RuntimeError):
    """The reloaded checkpoint does not reproduce the model that was saved."""


def export_checkpoint(path: str | os.PathLike[str], model: SubnetModel, extra: dict[str, Any]) -> Path:
    """Save ``model`` with ``extra`` (plain values only), reload it with ``weights_only`` and check
    that it computes exactly what the saved model computes."""
    save_subnet(path, model, extra)
    reloaded = load_subnet(path)
    if reloaded.arch != model.arch:
        raise CheckpointError(f"{path}: reloaded arch {reloaded.arch.id} differs from {model.arch.id}")
    x = torch.randn(2, 3, model.arch.resolution, model.arch.resolution, generator=torch.Generator().manual_seed(0))
    was_training = model.training
    with torch.no_grad():
        same = torch.equal(model.eval()(x), reloaded(x))
    model.train(was_training)
    if not same:
        raise CheckpointError(f"{path}: the reloaded model's outputs differ from the saved model's")
    return Path(path)
