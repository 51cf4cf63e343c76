"""The training recipe the supernet and every single model (baselines, standalone references) share.

One place builds the optimizer, the learning-rate schedule, Mixup and the mixed-precision policy
from a ``TrainingConfig``, so a recipe change reaches the supernet and the models it is compared
with alike.
"""

from __future__ import annotations

import contextlib

import torch
from timm.data import Mixup
from timm.optim import create_optimizer_v2
from timm.scheduler import CosineLRScheduler
from torch import nn

from elasticvit.config.experiment import TrainingConfig

LR_FLOOR = 1e-2
"""Warm-up starts and the cosine ends at this fraction of the peak learning rate."""


def build_optimizer(model: nn.Module, cfg: TrainingConfig) -> torch.optim.Optimizer:
    """timm's optimizer factory (weight decay off for 1-D parameters and ``model.no_weight_decay()``)."""
    return create_optimizer_v2(model, opt=cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainingConfig, horizon: int, warmup: int) -> CosineLRScheduler:
    """``warmup`` linear updates from the floor to ``cfg.lr``, then a cosine to the floor at ``horizon``.

    Positions are scheduler updates (``step_update(position)``): optimizer steps, or a budget's
    share of elapsed time for a wall-clock budget.
    """
    return CosineLRScheduler(
        optimizer, t_initial=max(horizon - warmup, 1), lr_min=cfg.lr * LR_FLOOR, warmup_t=warmup,
        warmup_lr_init=cfg.lr * LR_FLOOR, warmup_prefix=True, t_in_epochs=False,
    )


def build_mixup(cfg: TrainingConfig, num_classes: int) -> Mixup | None:
    """timm's Mixup with the recipe's label smoothing, or None when ``mixup_alpha`` is 0."""
    if cfg.mixup_alpha <= 0:
        return None
    return Mixup(mixup_alpha=cfg.mixup_alpha, label_smoothing=cfg.label_smoothing, num_classes=num_classes)


class Precision:
    """Mixed precision on CUDA with ``training.amp``: bf16 where the GPU has it, else fp16 with a
    gradient scaler; fp32 everywhere else. ``scaler`` is a pass-through when it is not needed."""

    def __init__(self, device: torch.device, cfg: TrainingConfig) -> None:
        cuda = device.type == "cuda" and cfg.amp
        self.dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if cuda else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.dtype == torch.float16)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.dtype)
