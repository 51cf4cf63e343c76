"""Complexity-aware sampling: a random walk over FLOPs levels, subnets drawn from the level's band.

Consecutive steps train subnets of similar size (the walk moves at most one level per step), which
is what keeps their gradients from conflicting; over many steps the walk still covers every level.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from elasticvit.sampling.base import Scorer, StepPlan, SubnetSampler, plan_of
from elasticvit.space import Arch
from elasticvit.space.pools import FlopsPools


class LevelWalk:
    """A lazy random walk on ``0 .. num_levels-1``: -1, 0 or +1 with equal odds, held at the ends."""

    def __init__(self, num_levels: int, seed: int) -> None:
        self.num_levels = num_levels
        self.level = int(np.random.default_rng([seed]).integers(num_levels))

    def advance(self, rng: np.random.Generator) -> int:
        move = int(rng.integers(-1, 2))
        self.level = min(max(self.level + move, 0), self.num_levels - 1)
        return self.level


class ComplexityAwareSampler(SubnetSampler):
    """Per step: ``subnets_per_step`` anchors from the current level's band plus its smallest subnet.

    The anchors are trained on the labels; the level's smallest subnet is distilled from the mean of
    their predictions (without ``level_student``, it is not trained: the anchors alone). With
    ``train_space_ends`` the walk's end levels also train the space's own ends, which their pools
    (uniform draws) practically never hold: the space's smallest is level 0's student (or, without
    students, one of its anchors) and the space's largest joins the top level's anchors.
    """

    def __init__(
        self, pools: FlopsPools, subnets_per_step: int, seed: int, train_space_ends: bool = False,
        level_student: bool = True,
    ) -> None:
        super().__init__(seed)
        self.pools = pools
        self.subnets_per_step = subnets_per_step
        self.train_space_ends = train_space_ends
        self.level_student = level_student
        self.walk = LevelWalk(len(pools.bands), seed)

    def plan(self, step: int, scorer: Scorer) -> StepPlan:
        rng = self.step_rng(step)
        level = self.walk.advance(rng)
        anchors, spent, unscored = self.choose(level, step, rng, scorer)
        students = [self._student(level)] if self.level_student else []
        return plan_of([*anchors, *self._end_anchors(level)], students, level=level,
                       scoring_forwards=spent, unscored=tuple(unscored))

    def _student(self, level: int) -> Arch:
        if self.train_space_ends and level == 0:
            return self.pools.space.smallest()
        return self.pools.smallest(level)

    def _end_anchors(self, level: int) -> list[Arch]:
        if self.train_space_ends and level == self.pools.num_levels - 1:
            return [self.pools.space.largest()]
        if self.train_space_ends and level == 0 and not self.level_student:
            return [self.pools.space.smallest()]
        return []

    def choose(
        self, level: int, step: int, rng: np.random.Generator, scorer: Scorer
    ) -> tuple[list[Arch], int, list[Arch]]:
        """The anchors of ``level``, the no-grad forwards spent choosing them, and those of them
        left to be scored by the step's training forward."""
        return [self.pools.sample(level, rng) for _ in range(self.subnets_per_step)], 0, []

    def state_dict(self) -> dict[str, Any]:
        return {"level": self.walk.level}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.walk.level = int(state["level"])
