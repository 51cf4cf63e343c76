"""Performance-aware sampling: within the walk's level, prefer subnets that already train well.

Each FLOPs level keeps a bounded memory bank of (arch, score) entries, score = minus the
cross-entropy on a mini-batch. An anchor is either exploited (a bank entry drawn by softmax over
the scores) or explored (the heuristic's favourite of a few fresh candidates from the level's band,
scored with a no-grad forward and inserted; with ``score_in_step`` the step's own training forward,
taken before the update, scores it instead, and the loop reports it through ``observe``). The exploit probability ramps up over training, so
early steps explore and late steps concentrate on the good region of each level. A bank is
re-scored on one mini-batch when the walk visits it and its scores are older than
``rescore_every`` steps, because scores taken on different batches and weights drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from elasticvit.sampling.base import Scorer, StepPlan, arch_from_state, arch_to_state
from elasticvit.sampling.complexity import ComplexityAwareSampler
from elasticvit.space import Arch
from elasticvit.space.pools import FlopsPools

Heuristic = Literal["max_flops", "min_flops", "random"]


class MemoryBank:
    """A bounded set of (arch, score); a new arch replaces the worst entry when the bank is full."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.archs: list[Arch] = []
        self.scores: list[float] = []

    def __len__(self) -> int:
        return len(self.archs)

    def insert(self, arch: Arch, score: float) -> None:
        if arch in self.archs:
            self.scores[self.archs.index(arch)] = score
        elif len(self.archs) < self.capacity:
            self.archs.append(arch)
            self.scores.append(score)
        else:
            worst = int(np.argmin(self.scores))
            self.archs[worst] = arch
            self.scores[worst] = score

    def pick(self, rng: np.random.Generator) -> Arch:
        """An entry drawn with probability softmax(scores)."""
        scores = np.asarray(self.scores, dtype=np.float64)
        weights = np.exp(scores - scores.max())
        return self.archs[int(rng.choice(len(self.archs), p=weights / weights.sum()))]

    def rescore(self, scores: Sequence[float]) -> None:
        self.scores = [float(s) for s in scores]

    def state_dict(self) -> dict[str, Any]:
        return {"archs": [arch_to_state(a) for a in self.archs], "scores": list(self.scores)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.archs = [arch_from_state(a) for a in state["archs"]]
        self.scores = [float(s) for s in state["scores"]]


class PerformanceAwareSampler(ComplexityAwareSampler):
    """Complexity-aware walk; anchors exploited from or explored into per-level memory banks."""

    def __init__(
        self,
        pools: FlopsPools,
        subnets_per_step: int,
        seed: int,
        *,
        capacities: Sequence[int],
        exploit_prob: Callable[[int], float],
        explore_candidates: int,
        heuristic: Heuristic,
        macs: Callable[[Arch], int],
        rescore_every: int,
        train_space_ends: bool = False,
        level_student: bool = True,
        score_in_step: bool = False,
    ) -> None:
        super().__init__(pools, subnets_per_step, seed, train_space_ends, level_student)
        self.score_in_step = score_in_step
        if len(capacities) != len(pools.bands):
            raise ValueError(f"{len(capacities)} bank capacities for {len(pools.bands)} levels")
        self.banks = [MemoryBank(c) for c in capacities]
        self.exploit_prob = exploit_prob
        self.explore_candidates = explore_candidates
        self.heuristic = heuristic
        self.macs = macs
        self.rescore_every = rescore_every
        self.rescored_at = [0] * len(capacities)

    def choose(
        self, level: int, step: int, rng: np.random.Generator, scorer: Scorer
    ) -> tuple[list[Arch], int, list[Arch]]:
        bank = self.banks[level]
        spent = 0
        if len(bank) and step - self.rescored_at[level] >= self.rescore_every:
            bank.rescore(scorer(bank.archs))
            self.rescored_at[level] = step
            spent += len(bank)
        p_exploit = self.exploit_prob(step)
        chosen: list[Arch] = []
        explored: list[Arch] = []
        for _ in range(self.subnets_per_step):
            if len(bank) and rng.random() < p_exploit:
                chosen.append(bank.pick(rng))
            else:
                arch = self._explore(level, rng)
                chosen.append(arch)
                explored.append(arch)
        if self.score_in_step:
            return chosen, spent, explored
        if explored:
            for arch, score in zip(explored, scorer(explored), strict=True):
                bank.insert(arch, score)
            spent += len(explored)
        return chosen, spent, []

    def observe(self, plan: StepPlan, scores: Sequence[float]) -> None:
        assert plan.level is not None
        for arch, score in zip(plan.unscored, scores, strict=True):
            self.banks[plan.level].insert(arch, score)

    def _explore(self, level: int, rng: np.random.Generator) -> Arch:
        candidates = [self.pools.sample(level, rng) for _ in range(self.explore_candidates)]
        if self.heuristic == "random":
            return candidates[0]
        sign = 1 if self.heuristic == "max_flops" else -1
        return max(candidates, key=lambda a: sign * self.macs(a))

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "banks": [b.state_dict() for b in self.banks],
            "rescored_at": list(self.rescored_at),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for bank, bank_state in zip(self.banks, state["banks"], strict=True):
            bank.load_state_dict(bank_state)
        self.rescored_at = [int(s) for s in state["rescored_at"]]
