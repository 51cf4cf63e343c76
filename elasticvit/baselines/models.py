"""Baseline models: any timm architecture, created from scratch for the project's classes.

Pretrained weights are never fetched (runs must work offline and compare like with like: every
model, supernet included, learns only from the project's data); a local state dict may be given.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path

import timm
import torch
from torch import nn

from elasticvit.errors import DamagedFileError, ElasticViTError
from elasticvit.utils.reading import read_torch

CLOSE_MATCHES = 5


class UnknownModelError(ElasticViTError):
    """The name is not a timm model; the message lists the closest names timm knows."""


class CheckpointError(ElasticViTError):
    """A baseline checkpoint is missing, not a state dict, or does not fit the model."""


def check_model_name(name: str) -> str:
    """Return ``name`` if timm can create it, else raise with the closest known names."""
    if timm.is_model(name):
        return name
    known = timm.list_models()
    close = difflib.get_close_matches(name, known, n=CLOSE_MATCHES, cutoff=0.5)
    # Substring matches catch what edit distance misses, e.g. "mobilenetv3" -> "mobilenetv3_small_100".
    close += [m for m in timm.list_models(f"*{name}*") if m not in close]
    hint = f"; close matches: {', '.join(close[:CLOSE_MATCHES])}" if close else ""
    raise UnknownModelError(f"unknown timm model '{name}'{hint} (see timm.list_models())")


def create_baseline(
    name: str,
    num_classes: int,
    checkpoint: str | os.PathLike[str] | None = None,
    drop_path: float = 0.0,
) -> nn.Module:
    """A randomly initialised timm model with a ``num_classes`` head, optionally loaded from a state dict."""
    check_model_name(name)
    # Not every timm family accepts drop_path_rate, so it is passed only when asked for.
    extra = {"drop_path_rate": drop_path} if drop_path > 0 else {}
    model = timm.create_model(name, pretrained=False, num_classes=num_classes, **extra)
    if checkpoint is not None:
        load_state(model, checkpoint)
    return model


def load_state(model: nn.Module, checkpoint: str | os.PathLike[str]) -> None:
    """Load a state dict (bare, or under ``state_dict``/``model``) saved by torch, weights only."""
    path = Path(checkpoint)
    if not path.is_file():
        raise CheckpointError(f"baseline checkpoint not found: {path}")
    # weights_only refuses pickled code: a checkpoint from elsewhere cannot execute anything.
    try:
        state = read_torch(path, "baseline checkpoint")
    except DamagedFileError as exc:
        raise CheckpointError(str(exc)) from exc
    for key in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: expected a state dict, got {type(state).__name__}")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: does not fit the model: {exc}") from exc


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass at ``input_shape`` (torch's FLOP counter / 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.zeros(input_shape, device=next(model.parameters()).device))
    model.train(was_training)
    return counter.get_total_flops() // 2
