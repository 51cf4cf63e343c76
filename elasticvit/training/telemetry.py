"""Gradient-conflict telemetry: how aligned the shared-weight gradients of successive updates are.

The paper's motivation is that subnets of very different size pull the shared weights in
conflicting directions. We measure it directly: the cosine similarity between the accumulated
gradient of consecutive steps, and between the gradients of the subnets within a step. Gradients
are flattened into one vector over all supernet parameters (a parameter a subnet does not use
contributes zeros), which costs one copy of the parameters per subnet.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def flat_grad(params: Sequence[nn.Parameter]) -> Tensor:
    """All gradients as one float32 vector (zeros where a parameter has none)."""
    return torch.cat(
        [
            (p.grad.detach().float() if p.grad is not None else torch.zeros_like(p, dtype=torch.float32)).reshape(-1)
            for p in params
        ]
    )


class GradientTelemetry:
    """Tracks per-subnet gradients within a step and the previous step's total gradient.

    Call ``begin_step``, then ``after_backward`` after each subnet's backward (gradients accumulate,
    so a subnet's own gradient is the difference to the previous snapshot), then ``end_step`` with
    the final (all-reduced, unclipped) gradient.
    """

    def __init__(self, params: Sequence[nn.Parameter]) -> None:
        self.params = list(params)
        self.previous: Tensor | None = None
        self._snapshots: list[Tensor] = []

    def begin_step(self) -> None:
        self._snapshots = []

    def after_backward(self) -> None:
        self._snapshots.append(flat_grad(self.params))

    def end_step(self) -> dict[str, float]:
        """``grad_cos_prev_step``, ``grad_cos_within_step`` (mean over subnet pairs), ``grad_norm``."""
        total = flat_grad(self.params)
        per_subnet = [b - a for a, b in zip([torch.zeros_like(total), *self._snapshots], self._snapshots)]
        metrics = {"grad_norm": float(total.norm())}
        if self.previous is not None:
            metrics["grad_cos_prev_step"] = _cosine(total, self.previous)
        pairs = [
            _cosine(a, b) for i, a in enumerate(per_subnet) for b in per_subnet[i + 1 :]
        ]
        if pairs:
            metrics["grad_cos_within_step"] = sum(pairs) / len(pairs)
        self.previous = total
        self._snapshots = []
        return metrics

    def state_dict(self) -> dict[str, Tensor | None]:
        return {"previous": self.previous}

    def load_state_dict(self, state: dict[str, Tensor | None]) -> None:
        self.previous = state["previous"]


def _cosine(a: Tensor, b: Tensor) -> float:
    return float(F.cosine_similarity(a, b, dim=0, eps=1e-12))
