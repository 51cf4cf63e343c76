"""Gradient-conflict telemetry: cosines between subnets within a step and between steps."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from elasticvit.training.telemetry import GradientTelemetry, flat_grad


def test_flat_grad_fills_missing_gradients_with_zeros():
    a, b = nn.Parameter(torch.ones(2, 2)), nn.Parameter(torch.ones(3))
    a.grad = torch.full((2, 2), 2.0)
    assert flat_grad([a, b]).tolist() == [2.0] * 4 + [0.0] * 3


def test_cosines_within_and_between_steps():
    w = nn.Parameter(torch.zeros(2))
    tele = GradientTelemetry([w])

    def backward(direction):
        (w * torch.tensor(direction)).sum().backward()
        tele.after_backward()

    tele.begin_step()
    backward([1.0, 0.0])
    backward([0.0, 1.0])  # orthogonal to the first subnet
    first = tele.end_step()
    assert first["grad_cos_within_step"] == pytest.approx(0.0)
    assert "grad_cos_prev_step" not in first
    w.grad = None
    tele.begin_step()
    backward([-1.0, -1.0])
    backward([-2.0, -2.0])
    second = tele.end_step()
    assert second["grad_cos_within_step"] == pytest.approx(1.0)
    assert second["grad_cos_prev_step"] == pytest.approx(-1.0)  # (1,1) then (-3,-3)
    assert second["grad_norm"] == pytest.approx(18**0.5)
