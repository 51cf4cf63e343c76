"""The sampler interface: which subnets one training step trains, and in which role.

A sampler is a pure function of its seed, the step number and its own state, so every distributed
rank that builds it with the same seed plans the same subnets without communicating. Per-step
randomness comes from a generator derived from ``(seed, step)``: resuming at step ``s`` needs only
the sampler's explicit state (walk position, banks), never a saved generator.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from elasticvit.space import Arch


class Role(str, Enum):
    """How a planned subnet is trained."""

    ANCHOR = "anchor"  # on the labels; the mean of the anchors' predictions is the in-place teacher
    STUDENT = "student"  # distilled from the in-place (or external) teacher


class PlannedSubnet(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    arch: Arch
    role: Role


class StepPlan(BaseModel):
    """The subnets of one step, anchors first (their predictions are needed by the students)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    subnets: tuple[PlannedSubnet, ...]
    level: int | None = None
    scoring_forwards: int = 0  # no-grad forwards spent choosing these subnets
    # Anchors whose score the sampler wants from this step's training forward, through ``observe``.
    unscored: tuple[Arch, ...] = ()

    @property
    def archs(self) -> list[Arch]:
        return [s.arch for s in self.subnets]


# Scores a list of archs on the current mini-batch: minus the cross-entropy of each, equal on every
# rank (the training loop all-reduces them).
Scorer = Callable[[Sequence[Arch]], list[float]]


class SubnetSampler(ABC):
    """Plans the subnets of each step; ``plan`` must be called with consecutive steps."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    @abstractmethod
    def plan(self, step: int, scorer: Scorer) -> StepPlan:
        """The subnets for ``step``; ``scorer`` is only called by performance-aware samplers."""

    def observe(self, plan: StepPlan, scores: Sequence[float]) -> None:
        """The scores of ``plan.unscored`` (as ``Scorer`` gives them), taken by the step's training
        forward before its update; called before the next ``plan``."""
        if plan.unscored:
            raise NotImplementedError(f"{type(self).__name__} planned unscored subnets but takes no scores")

    def state_dict(self) -> dict[str, Any]:
        """Plain containers only, so a checkpoint loads with ``torch.load(weights_only=True)``."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        del state

    def step_rng(self, step: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, step])


def plan_of(anchors: Sequence[Arch], students: Sequence[Arch], **fields: Any) -> StepPlan:
    subnets = [PlannedSubnet(arch=a, role=Role.ANCHOR) for a in anchors]
    subnets += [PlannedSubnet(arch=a, role=Role.STUDENT) for a in students]
    return StepPlan(subnets=tuple(subnets), **fields)


def arch_to_state(arch: Arch) -> dict[str, Any]:
    return arch.model_dump(mode="json")


def arch_from_state(state: dict[str, Any]) -> Arch:
    return Arch.model_validate(state)
