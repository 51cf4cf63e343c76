"""Losses: the adaptive alpha-divergence against its closed form, KL, the ensemble target."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy

from elasticvit.config.experiment import TrainingConfig
from elasticvit.training.losses import AdaptiveAlphaDivergence, build_losses, ensemble_target
from elasticvit.training.losses import _alpha_divergence


def closed_form(logits: torch.Tensor, p: torch.Tensor, alpha: float) -> torch.Tensor:
    """D_alpha(p || q) per sample, differentiable through q = softmax(logits)."""
    q = F.softmax(logits, dim=-1)
    if alpha == 0.0:
        return (q * (q.log() - p.log())).sum(-1)
    if alpha == 1.0:
        return (p * (p.log() - q.log())).sum(-1)
    return ((p**alpha * q ** (1 - alpha)).sum(-1) - 1) / (alpha * (alpha - 1))


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(0)
    teacher = F.softmax(torch.randn(6, 5, generator=g, dtype=torch.float64), dim=-1)
    # a student close to the teacher: importance weights stay far below the clip
    student = (teacher.log() + 0.3 * torch.randn(6, 5, generator=g, dtype=torch.float64)).requires_grad_()
    return student, teacher


@pytest.mark.parametrize("alpha", [-1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
def test_alpha_divergence_value_and_gradient_match_the_closed_form(pair, alpha):
    student, teacher = pair
    log_q = F.log_softmax(student, dim=-1)
    value, surrogate = _alpha_divergence(log_q, teacher, alpha, clip=1e6)
    expected = closed_form(student, teacher, alpha)
    torch.testing.assert_close(value, expected.detach())
    (grad,) = torch.autograd.grad(surrogate.sum(), student)
    (expected_grad,) = torch.autograd.grad(expected.sum(), student)
    torch.testing.assert_close(grad, expected_grad)


def test_adaptive_alpha_takes_the_larger_side_per_sample(pair):
    student, teacher = pair
    loss = AdaptiveAlphaDivergence(-1.0, 1.0, weight_clip=1e6)(student, teacher)
    larger = torch.maximum(closed_form(student, teacher, -1.0), closed_form(student, teacher, 1.0))
    torch.testing.assert_close(loss, larger.mean().float().to(loss.dtype), atol=1e-6, rtol=1e-5)
    (grad,) = torch.autograd.grad(loss, student)
    (expected,) = torch.autograd.grad(larger.mean(), student)
    torch.testing.assert_close(grad, expected.to(grad.dtype), atol=1e-6, rtol=1e-4)


def test_alpha_divergence_is_zero_at_the_teacher_and_clipped_far_from_it():
    teacher = F.softmax(torch.tensor([[2.0, 0.0, -2.0]]), dim=-1)
    loss_fn = AdaptiveAlphaDivergence(-1.0, 1.0, weight_clip=5.0)
    assert float(loss_fn(teacher.log(), teacher)) == pytest.approx(0.0, abs=1e-6)
    far = torch.tensor([[-30.0, 0.0, 30.0]], requires_grad=True)
    loss = loss_fn(far, teacher)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(far.grad).all()
    assert far.grad.abs().max() <= 5.0 + 1e-4  # |d/dlogit| bounded by the clipped weight


def test_kl_distillation_gradient_is_the_kl_gradient(pair):
    student, teacher = pair
    (grad,) = torch.autograd.grad(SoftTargetCrossEntropy()(student, teacher), student)
    (expected,) = torch.autograd.grad(closed_form(student, teacher, 1.0).mean(), student)
    torch.testing.assert_close(grad, expected)


def test_ensemble_target_is_the_detached_mean_distribution():
    a = torch.tensor([[0.0, 0.0]], requires_grad=True)
    b = torch.tensor([[10.0, -10.0]])
    target = ensemble_target([a, b])
    assert not target.requires_grad
    torch.testing.assert_close(target, (F.softmax(a.detach(), -1) + F.softmax(b, -1)) / 2)


def test_build_losses_follows_the_config():
    losses = build_losses(TrainingConfig(distillation="alpha"), soft_labels=False)
    assert isinstance(losses.anchor, LabelSmoothingCrossEntropy)
    assert isinstance(losses.distill, AdaptiveAlphaDivergence)
    losses = build_losses(TrainingConfig(distillation="kl", mixup_alpha=0.2), soft_labels=True)
    assert isinstance(losses.anchor, SoftTargetCrossEntropy) and isinstance(losses.distill, SoftTargetCrossEntropy)
    assert build_losses(TrainingConfig(distillation="none"), soft_labels=False).distill is None


def test_students_learn_from_the_labels_until_distillation_starts():
    losses = build_losses(TrainingConfig(distillation="kl", epochs=4, distill_from_epoch=1.5), soft_labels=False,
                          steps_per_epoch=10)
    assert losses.distill_from_step == 15
    assert losses.student(1) is None and losses.student(15) is None  # steps are 1-based: 15 done by the labels
    assert losses.student(16) is losses.distill is not None
    from_start = build_losses(TrainingConfig(distillation="kl"), soft_labels=False)
    assert from_start.student(1) is from_start.distill is not None  # the default: distilled from the first step


def test_distillation_start_is_checked_against_the_recipe():
    with pytest.raises(ValueError, match="distill_from_epoch needs training.distillation"):
        TrainingConfig(distillation="none", epochs=4, distill_from_epoch=1)
    with pytest.raises(ValueError, match="distill_from_epoch must be earlier"):
        TrainingConfig(distillation="kl", epochs=4, distill_from_epoch=4)
