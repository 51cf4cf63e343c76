"""The baseline: the sandwich rule with uniformly random subnets in the middle."""

from __future__ import annotations

from elasticvit.sampling.base import Scorer, StepPlan, SubnetSampler, plan_of
from elasticvit.space import SearchSpace


class UniformSampler(SubnetSampler):
    """Per step: the largest subnet (the anchor), ``num_random`` uniform subnets and the smallest."""

    def __init__(self, space: SearchSpace, num_random: int, seed: int) -> None:
        super().__init__(seed)
        self.space = space
        self.num_random = num_random
        self._largest = space.largest()
        self._smallest = space.smallest()

    def plan(self, step: int, scorer: Scorer) -> StepPlan:
        rng = self.step_rng(step)
        middle = [self.space.sample(rng) for _ in range(self.num_random)]
        return plan_of([self._largest], [*middle, self._smallest])
