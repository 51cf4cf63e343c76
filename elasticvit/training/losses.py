"""Losses of supernet training: labels for the anchors, distillation for the students.

Anchors learn from the labels (timm's label-smoothing cross-entropy, or soft-target cross-entropy
when Mixup already made the targets soft). Students learn from a teacher distribution: the mean of
the anchors' predictions (in-place distillation; with the sandwich rule the single anchor is the
largest subnet) or an external teacher's. The distillation divergence is KL (as soft-target
cross-entropy, which differs from KL by the teacher's entropy, a constant for the student) or
AlphaNet's adaptive alpha-divergence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from torch import Tensor, nn

from elasticvit.config.experiment import TrainingConfig


class SubnetLosses(BaseModel):
    """The two criteria of a step; ``distill`` is None when students also learn from the labels."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    anchor: nn.Module
    distill: nn.Module | None
    distill_from_step: int = 0
    """Students learn from the labels before this optimizer step (``training.distill_from_epoch``)."""

    def student(self, step: int) -> nn.Module | None:
        """The students' criterion at (1-based) ``step``: the distillation one, or None for the labels."""
        return self.distill if step > self.distill_from_step else None


def build_losses(cfg: TrainingConfig, soft_labels: bool, steps_per_epoch: int = 1) -> SubnetLosses:
    """``soft_labels``: Mixup produces (already smoothed) target distributions instead of indices."""
    anchor: nn.Module = (
        SoftTargetCrossEntropy() if soft_labels else LabelSmoothingCrossEntropy(cfg.label_smoothing)
    )
    distill: nn.Module | None = None
    if cfg.distillation == "kl":
        distill = SoftTargetCrossEntropy()
    elif cfg.distillation == "alpha":
        distill = AdaptiveAlphaDivergence(cfg.alpha_min, cfg.alpha_max)
    return SubnetLosses(anchor=anchor, distill=distill, distill_from_step=round(cfg.distill_from_epoch * steps_per_epoch))


def ensemble_target(logits: Sequence[Tensor]) -> Tensor:
    """The mean of the predicted distributions, detached: the in-place teacher of the students."""
    probs = torch.stack([F.softmax(x.detach().float(), dim=-1) for x in logits])
    return probs.mean(dim=0)


class AdaptiveAlphaDivergence(nn.Module):
    """AlphaNet's adaptive alpha-divergence D_alpha(teacher || student), our own derivation.

    D_a(p||q) = (sum_i p_i^a q_i^(1-a) - 1) / (a (a - 1)), with KL(q||p) at a = 0 and KL(p||q) at
    a = 1. Per sample, the larger of D_{alpha_min} (negative alpha: punishes the student for
    under-estimating the teacher's uncertainty) and D_{alpha_max} (positive: for missing modes) is
    minimised. Its gradient w.r.t. the student's log-probabilities is -(1/a) q_i w_i with the
    importance weight w_i = (p_i/q_i)^a; clipping w at ``weight_clip`` keeps the variance bounded
    where the student puts almost no mass. The returned value is the divergence; its gradient is the
    clipped one.
    """

    def __init__(self, alpha_min: float = -1.0, alpha_max: float = 1.0, weight_clip: float = 5.0) -> None:
        super().__init__()
        if alpha_min > alpha_max:
            raise ValueError(f"alpha_min {alpha_min} > alpha_max {alpha_max}")
        self.alpha_min = alpha_min
        self.alpha_max = alpha_max
        self.weight_clip = weight_clip

    def forward(self, student_logits: Tensor, teacher_probs: Tensor) -> Tensor:
        log_q = F.log_softmax(student_logits.float(), dim=-1)
        p = teacher_probs.detach().float()
        value_lo, surrogate_lo = _alpha_divergence(log_q, p, self.alpha_min, self.weight_clip)
        value_hi, surrogate_hi = _alpha_divergence(log_q, p, self.alpha_max, self.weight_clip)
        use_lo = value_lo > value_hi
        value = torch.where(use_lo, value_lo, value_hi)
        surrogate = torch.where(use_lo, surrogate_lo, surrogate_hi)
        # value in the forward pass, surrogate's gradient in the backward pass
        return (surrogate - surrogate.detach() + value).mean()


_EPS = 1e-12


def _alpha_divergence(log_q: Tensor, p: Tensor, alpha: float, clip: float) -> tuple[Tensor, Tensor]:
    """Per-sample (divergence, surrogate whose gradient w.r.t. log_q is the divergence's)."""
    q = log_q.detach().exp()
    log_ratio = p.clamp_min(_EPS).log() - log_q.detach()  # log(p / q)
    max_log_weight = math.log(clip)
    if abs(alpha) < 1e-3:  # KL(q || p); d/dlog q_i = q_i (log(q_i/p_i) + 1), the +1 sums to zero
        value = (q * -log_ratio).sum(-1)
        coef = q * -log_ratio.clamp(min=-max_log_weight)
    elif abs(alpha - 1.0) < 1e-3:  # KL(p || q); d/dlog q_i = -p_i
        value = (p * log_ratio).sum(-1)
        coef = -q * log_ratio.clamp(max=max_log_weight).exp()
    else:
        weight = (alpha * log_ratio).clamp(max=max_log_weight).exp()
        value = ((q * (alpha * log_ratio).exp()).sum(-1) - 1.0) / (alpha * (alpha - 1.0))
        coef = -q * weight / alpha
    return value, (coef * log_q).sum(-1)
