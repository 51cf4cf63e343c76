"""Builds the configured sampler; the one place that reads ``SamplingConfig``."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from elasticvit.config.experiment import SamplingConfig
from elasticvit.sampling.base import SubnetSampler
from elasticvit.sampling.complexity import ComplexityAwareSampler
from elasticvit.sampling.performance import PerformanceAwareSampler
from elasticvit.sampling.uniform import UniformSampler
from elasticvit.space import Arch, SearchSpace
from elasticvit.space.complexity import arch_macs
from elasticvit.space.pools import FlopsPools


def build_sampler(
    cfg: SamplingConfig, space: SearchSpace, pools: FlopsPools, num_classes: int, total_steps: int
) -> SubnetSampler:
    if cfg.strategy == "uniform":
        return UniformSampler(space, cfg.num_random, cfg.seed)
    if cfg.strategy == "complexity":
        return ComplexityAwareSampler(pools, cfg.subnets_per_step, cfg.seed, cfg.train_space_ends, cfg.level_student)

    @lru_cache(maxsize=None)
    def macs(arch: Arch) -> int:
        return arch_macs(space, arch, num_classes)

    return PerformanceAwareSampler(
        pools,
        cfg.subnets_per_step,
        cfg.seed,
        capacities=bank_capacities(len(pools.bands), cfg.bank_capacity_small, cfg.bank_capacity_large),
        exploit_prob=exploit_schedule(cfg.exploit_prob_start, cfg.exploit_prob_end, total_steps),
        explore_candidates=cfg.explore_candidates,
        heuristic=cfg.explore_heuristic,
        macs=macs,
        rescore_every=cfg.rescore_every,
        train_space_ends=cfg.train_space_ends,
        level_student=cfg.level_student,
        score_in_step=cfg.score_in_step,
    )


def bank_capacities(num_levels: int, small: int, large: int) -> list[int]:
    """The lower half of the levels gets the small-model capacity, the upper half the large one."""
    return [small if level < (num_levels + 1) // 2 else large for level in range(num_levels)]


def exploit_schedule(start: float, end: float, total_steps: int) -> Callable[[int], float]:
    """Exploit probability ramped linearly from ``start`` at step 0 to ``end`` at the last step."""

    def prob(step: int) -> float:
        return start + (end - start) * min(step / max(total_steps - 1, 1), 1.0)

    return prob
