"""Checkpoints: the resumable training state and the final supernet, both weights-only loadable.

Everything is stored as tensors and plain containers (RNG states included), so both files load
with ``torch.load(weights_only=True)``: opening a checkpoint never runs pickled code.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict

from elasticvit.config.experiment import ExperimentConfig
from elasticvit.errors import DamagedFileError
from elasticvit.model import Supernet
from elasticvit.space import SearchSpace
from elasticvit.utils.atomic import atomic_path, torch_save
from elasticvit.utils.hashing import stable_hash
from elasticvit.utils.reading import read_torch

CHECKPOINT_NAME = "checkpoint.pt"
PREVIOUS_CHECKPOINT_NAME = "checkpoint.prev.pt"
HISTORY_NAME = "history.json"
"""Per-epoch probe accuracies and train loss of a run (DVC's training-curve plot)."""
METRICS_NAME = "metrics.json"
"""The finished run's final probe accuracies (DVC metrics)."""
FORMAT_VERSION = 1

log = logging.getLogger(__name__)


def training_fingerprint(cfg: ExperimentConfig, space: SearchSpace, layout: Any = None) -> str:
    """What a training run's weights are a function of; a checkpoint resumes only a run with the
    same fingerprint. Output locations are left out: moving a run does not change it.

    ``layout`` describes the built model and optimizer (parameter names and shapes, parameter
    groups): a checkpoint written by a version of the code that grouped or named them otherwise
    cannot be loaded, so it must not count as the same run.
    """
    return stable_hash(
        {
            "training": cfg.training.model_dump(mode="json", exclude={"output_dir"}),
            "sampling": cfg.sampling.model_dump(mode="json"),
            "data": cfg.data.model_dump(mode="json", exclude={"output_dir"}),
            "space": space.hash,
            "layout": layout,
        }
    )


def capture_rng() -> dict[str, Any]:
    """The global RNG states that the model (drop-path) and timm's Mixup draw from."""
    keys, pos, has_gauss, cached = np.random.get_state(legacy=True)[1:]
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    keys = np_state["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, np_state["pos"], np_state["has_gauss"], np_state["cached_gaussian"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write ``path`` atomically; the checkpoint it replaces is kept beside it as the fallback."""
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT_VERSION, **state}, tmp)
        if path.exists():
            os.replace(path, path.with_name(PREVIOUS_CHECKPOINT_NAME))
    return path


def load_resumable(out_dir: Path, fingerprint: str) -> dict[str, Any] | None:
    """The last good checkpoint in ``out_dir`` if it belongs to a run with ``fingerprint``.

    Writes are atomic, so a file is complete when written; one damaged later (a full disk, a bad
    copy) falls back to the one before it, which every save keeps. A checkpoint of another
    configuration is not resumed (its weights would not be what this configuration produces);
    training starts over and overwrites it.
    """
    latest, previous = out_dir / CHECKPOINT_NAME, out_dir / PREVIOUS_CHECKPOINT_NAME
    damaged: list[DamagedFileError] = []
    for path in (latest, previous):
        if not path.exists():
            continue
        try:
            state = read_torch(path, "resume checkpoint")
        except DamagedFileError as exc:
            log.warning("%s; trying the checkpoint before it", exc)
            damaged.append(exc)
            continue
        if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION or state.get("fingerprint") != fingerprint:
            log.warning("%s belongs to another configuration; starting from scratch", path)
            return None
        return state
    if damaged:
        raise DamagedFileError(f"{damaged[0]}, and no good checkpoint before it: delete {latest} and {previous} "
                               f"to train from the start")
    return None


class SupernetMeta(BaseModel):
    """What ``supernet.pt`` carries besides the weights."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    space: SearchSpace
    num_classes: int
    config: ExperimentConfig
    weights: Literal["model", "ema"]
    steps: int
    metrics: dict[str, float]


def save_supernet(path: Path, state_dict: dict[str, torch.Tensor], meta: SupernetMeta) -> Path:
    return torch_save(
        path,
        {
            "format": FORMAT_VERSION,
            "state_dict": state_dict,
            "space": meta.space.model_dump_json(),
            "num_classes": meta.num_classes,
            "config": meta.config.model_dump_json(),
            "weights": meta.weights,
            "steps": meta.steps,
            "metrics": dict(meta.metrics),
        },
    )


def load_supernet(path: str | Path, device: str | torch.device = "cpu") -> tuple[Supernet, SupernetMeta]:
    """The trained supernet (eval mode) and its metadata, from a weights-only ``supernet.pt``."""
    blob = read_torch(path, "supernet file", map_location=device,
                      remedy="re-run `elasticvit train` (a damaged supernet.pt is not resumed from)")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT_VERSION:
        raise DamagedFileError(f"{path}: not a supernet file of this version (expected format {FORMAT_VERSION!r})")
    meta = SupernetMeta(
        space=SearchSpace.model_validate_json(blob["space"]),
        num_classes=blob["num_classes"],
        config=ExperimentConfig.model_validate_json(blob["config"]),
        weights=blob["weights"],
        steps=blob["steps"],
        metrics=blob["metrics"],
    )
    model = Supernet(meta.space, meta.num_classes,
                     switchable_scales=meta.config.training.switchable_scales).to(device)
    model.load_state_dict(blob["state_dict"])
    return model.eval(), meta
