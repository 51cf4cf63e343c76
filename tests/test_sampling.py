"""Sampler properties: the walk, the bands, the banks, determinism and checkpoint round-trips."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from elasticvit.config.experiment import SamplingConfig
from elasticvit.sampling import (
    ComplexityAwareSampler,
    MemoryBank,
    PerformanceAwareSampler,
    Role,
    UniformSampler,
    bank_capacities,
    build_sampler,
    exploit_schedule,
)
from elasticvit.space import load_space
from elasticvit.space.complexity import arch_macs
from elasticvit.space.pools import FlopsPools

NUM_CLASSES = 10
LEVELS = 4


@pytest.fixture(scope="module")
def space():
    return load_space("cifar")


@pytest.fixture(scope="module")
def pools(space):
    return FlopsPools.build(space, LEVELS, NUM_CLASSES, 20, np.random.default_rng(0))


def macs_scorer(space):
    """A deterministic stand-in for the loss-based scorer: bigger subnets score higher."""
    calls = []

    def score(archs):
        calls.append(len(archs))
        return [arch_macs(space, a, NUM_CLASSES) / 1e7 for a in archs]

    return score, calls


def performance_sampler(space, pools, total_steps=200, **overrides):
    cfg = SamplingConfig(
        strategy="performance", num_levels=LEVELS, pool_size=20, bank_capacity_small=5, bank_capacity_large=3,
        rescore_every=10, **overrides,
    )
    return build_sampler(cfg, space, pools, NUM_CLASSES, total_steps)


def run(sampler, steps, scorer, start=0):
    return [sampler.plan(s, scorer) for s in range(start, start + steps)]


def test_uniform_is_the_sandwich_rule(space):
    sampler = UniformSampler(space, num_random=3, seed=1)
    for plan in run(sampler, 20, macs_scorer(space)[0]):
        assert [s.role for s in plan.subnets] == [Role.ANCHOR] + [Role.STUDENT] * 4
        assert plan.archs[0] == space.largest() and plan.archs[-1] == space.smallest()
    plans = run(sampler, 50, None)
    assert len({p.archs[1] for p in plans}) > 1, "the middle subnets are random"


def test_complexity_walk_moves_at_most_one_level_and_covers_all(space, pools):
    sampler = ComplexityAwareSampler(pools, subnets_per_step=3, seed=3)
    levels = [p.level for p in run(sampler, 300, None)]
    assert all(abs(a - b) <= 1 for a, b in zip(levels, levels[1:]))
    assert set(levels) == set(range(LEVELS))
    moves = np.diff(levels)
    assert (moves == 0).mean() > 0.2, "the walk also stays put"


def test_complexity_subnets_come_from_the_level_band(space, pools):
    sampler = ComplexityAwareSampler(pools, subnets_per_step=3, seed=0)
    for plan in run(sampler, 60, None):
        lo, hi = pools.bands[plan.level]
        assert [s.role for s in plan.subnets] == [Role.ANCHOR] * 3 + [Role.STUDENT]
        assert plan.archs[-1] == pools.smallest(plan.level)
        for arch in plan.archs:
            assert lo <= arch_macs(space, arch, NUM_CLASSES) <= hi


@pytest.mark.parametrize("strategy", ["complexity", "performance"])
def test_space_ends_train_at_the_end_levels_only(space, pools, strategy):
    cfg = SamplingConfig(strategy=strategy, num_levels=LEVELS, pool_size=20, bank_capacity_small=5,
                         bank_capacity_large=3, subnets_per_step=1, train_space_ends=True)
    plain = build_sampler(cfg.model_copy(update={"train_space_ends": False}), space, pools, NUM_CLASSES, 200)
    ends = build_sampler(cfg, space, pools, NUM_CLASSES, 200)
    assert space.smallest() not in pools.pools[0] and space.largest() not in pools.pools[-1]
    seen = set()
    for plain_plan, plan in zip(run(plain, 200, macs_scorer(space)[0]), run(ends, 200, macs_scorer(space)[0])):
        assert plan.level == plain_plan.level, "the walk is unchanged"
        seen.add(plan.level)
        if plan.level == LEVELS - 1:
            assert [s.role for s in plan.subnets] == [Role.ANCHOR, Role.ANCHOR, Role.STUDENT]
            assert plan.archs[1] == space.largest()
        else:
            assert [s.role for s in plan.subnets] == [Role.ANCHOR, Role.STUDENT]
            assert space.largest() not in plan.archs
        expected_student = space.smallest() if plan.level == 0 else pools.smallest(plan.level)
        assert plan.archs[-1] == expected_student
        assert plain_plan.archs[-1] == pools.smallest(plan.level)
    assert {0, LEVELS - 1} <= seen


@pytest.mark.parametrize("strategy", ["uniform", "complexity", "performance"])
def test_same_seed_same_sequence_as_on_another_rank(space, pools, strategy):
    cfg = SamplingConfig(strategy=strategy, num_levels=LEVELS, pool_size=20, seed=7, rescore_every=5)
    rank0, rank1 = (build_sampler(cfg, space, pools, NUM_CLASSES, 100) for _ in range(2))
    seq0 = run(rank0, 60, macs_scorer(space)[0])
    seq1 = run(rank1, 60, macs_scorer(space)[0])
    assert [p.archs for p in seq0] == [p.archs for p in seq1]
    other = build_sampler(cfg.model_copy(update={"seed": 8}), space, pools, NUM_CLASSES, 100)
    assert [p.archs for p in run(other, 60, macs_scorer(space)[0])] != [p.archs for p in seq0]


def test_performance_banks_are_bounded_filled_and_in_band(space, pools):
    sampler = performance_sampler(space, pools)
    scorer, calls = macs_scorer(space)
    plans = run(sampler, 200, scorer)
    caps = bank_capacities(LEVELS, 5, 3)
    assert caps == [5, 5, 3, 3]
    for level, bank in enumerate(sampler.banks):
        assert 0 < len(bank) <= caps[level]
        lo, hi = pools.bands[level]
        assert all(lo <= arch_macs(space, a, NUM_CLASSES) <= hi for a in bank.archs)
    assert sum(p.scoring_forwards for p in plans) == sum(calls)
    # late in training (exploit probability ~0.95) almost every anchor comes from the bank
    late = plans[-40:]
    banked = [a in sampler.banks[p.level].archs for p in late for a in p.archs[:-1]]
    assert np.mean(banked) > 0.8


def test_performance_rescoring_refreshes_the_current_bank(space, pools):
    sampler = performance_sampler(space, pools, exploit_prob_start=0.0, exploit_prob_end=0.0)
    run(sampler, 50, macs_scorer(space)[0])
    sampler.rescored_at = [-(10**6)] * LEVELS  # due now, whichever level the walk reaches next
    plan = sampler.plan(50, lambda archs: [-1.0] * len(archs))
    bank = sampler.banks[plan.level]
    assert sampler.rescored_at[plan.level] == 50
    assert len(bank) and all(s == -1.0 for s in bank.scores)
    assert plan.scoring_forwards >= len(bank)


@pytest.mark.parametrize("strategy", ["complexity", "performance"])
def test_without_level_students_a_step_trains_its_anchors_alone(space, pools, strategy):
    cfg = SamplingConfig(strategy=strategy, num_levels=LEVELS, pool_size=20, bank_capacity_small=5,
                         bank_capacity_large=3, subnets_per_step=1, train_space_ends=True)
    with_students = build_sampler(cfg, space, pools, NUM_CLASSES, 200)
    alone = build_sampler(cfg.model_copy(update={"level_student": False}), space, pools, NUM_CLASSES, 200)
    levels = set()
    for full, plan in zip(run(with_students, 200, macs_scorer(space)[0]), run(alone, 200, macs_scorer(space)[0])):
        assert plan.level == full.level, "the walk is unchanged"
        levels.add(plan.level)
        assert all(s.role == Role.ANCHOR for s in plan.subnets)
        assert plan.archs == [s.arch for s in full.subnets if s.role == Role.ANCHOR] + (
            [space.smallest()] if plan.level == 0 else [])  # the space's smallest still trained
    assert levels == set(range(LEVELS))


def test_scores_taken_in_step_plan_what_a_scoring_forward_plans(space, pools):
    """``score_in_step`` leaves an explored anchor's score to the training forward (``observe``);
    fed the same scores, the sampler plans the same subnets, and spends no forwards on them."""
    scorer = macs_scorer(space)[0]
    separate = run(performance_sampler(space, pools), 150, scorer)
    in_step = performance_sampler(space, pools, score_in_step=True)
    rescore_calls = []
    plans = []
    for step in range(150):
        plan = in_step.plan(step, lambda archs: rescore_calls.append(len(archs)) or scorer(archs))
        anchors = [s.arch for s in plan.subnets if s.role == Role.ANCHOR]
        assert all(a in anchors for a in plan.unscored)
        in_step.observe(plan, scorer(list(plan.unscored)))
        plans.append(plan)
    assert [p.archs for p in plans] == [p.archs for p in separate]
    assert sum(len(p.unscored) for p in plans) > 0
    assert sum(p.scoring_forwards for p in plans) == sum(rescore_calls)  # re-scoring only
    assert sum(p.scoring_forwards for p in separate) == sum(p.scoring_forwards for p in plans) + sum(
        len(p.unscored) for p in plans)


def test_a_sampler_without_banks_refuses_unscored_plans(space, pools):
    sampler = ComplexityAwareSampler(pools, 1, seed=0)
    plan = sampler.plan(0, None)
    sampler.observe(plan, [])  # nothing to score: fine
    with pytest.raises(NotImplementedError, match="takes no scores"):
        sampler.observe(plan.model_copy(update={"unscored": (plan.archs[0],)}), [0.0])


def test_explore_keeps_the_heuristics_favourite(space, pools):
    sampler = performance_sampler(space, pools, explore_heuristic="max_flops", explore_candidates=5)
    macs = lambda a: arch_macs(space, a, NUM_CLASSES)  # noqa: E731
    for level in range(LEVELS):
        chosen = sampler._explore(level, np.random.default_rng(level))
        replay = np.random.default_rng(level)
        candidates = [pools.sample(level, replay) for _ in range(5)]
        assert macs(chosen) == max(macs(c) for c in candidates)


def test_bank_replaces_its_worst_entry_and_picks_by_softmax(space):
    bank = MemoryBank(capacity=3)
    archs = [space.sample(np.random.default_rng(i)) for i in range(10)]
    archs = list(dict.fromkeys(archs))[:4]
    for arch, score in zip(archs[:3], [-1.0, -3.0, -2.0]):
        bank.insert(arch, score)
    bank.insert(archs[3], -5.0)
    assert len(bank) == 3 and archs[1] not in bank.archs and archs[3] in bank.archs
    bank.rescore([0.0, -20.0, -20.0])
    rng = np.random.default_rng(0)
    picks = [bank.pick(rng) for _ in range(200)]
    assert picks.count(bank.archs[0]) > 190


def test_sampler_state_survives_a_weights_only_checkpoint(space, pools):
    scorer = macs_scorer(space)[0]
    uninterrupted = performance_sampler(space, pools)
    expected = run(uninterrupted, 120, scorer)
    first = performance_sampler(space, pools)
    run(first, 70, scorer)
    buf = io.BytesIO()
    torch.save({"sampler": first.state_dict()}, buf)
    buf.seek(0)
    restored = performance_sampler(space, pools)
    restored.load_state_dict(torch.load(buf, weights_only=True)["sampler"])
    assert [len(b) for b in restored.banks] == [len(b) for b in first.banks]
    assert [p.archs for p in run(restored, 50, scorer, start=70)] == [p.archs for p in expected[70:]]


def test_exploit_schedule_ramps_between_the_configured_ends():
    prob = exploit_schedule(0.2, 0.95, total_steps=101)
    assert prob(0) == pytest.approx(0.2) and prob(100) == pytest.approx(0.95) and prob(50) == pytest.approx(0.575)


def test_mismatched_bank_capacities_are_rejected(pools):
    with pytest.raises(ValueError, match="capacities"):
        PerformanceAwareSampler(
            pools, 3, 0, capacities=[5], exploit_prob=lambda s: 0.5, explore_candidates=2,
            heuristic="random", macs=lambda a: 0, rescore_every=10,
        )
