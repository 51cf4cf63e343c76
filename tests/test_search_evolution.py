"""Evolutionary and random search on a stand-in space: constraints, early stopping, screening."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elasticvit.config import SearchConfig
from elasticvit.search.constraints import Constraint, InfeasibleBudgetError
from elasticvit.search.evolution import SearchError, evolve
from elasticvit.search.random_search import random_search
from tests.test_search_toy import ToyArch, ToySpace, accuracy, latency

SMALL = SearchConfig(population=12, generations=6, parents=4, mutations=6, crossovers=6)


class Direct:
    """Fitness without a cache, counting archs scored."""

    def __init__(self) -> None:
        self.scored: list[str] = []

    def evaluate_many(self, archs):
        self.scored += [a.id for a in archs]
        return [accuracy(a) for a in archs]


@settings(max_examples=25, deadline=None)
@given(budget=st.floats(min_value=6.0, max_value=24.0), seed=st.integers(0, 2**16))
def test_every_scored_arch_respects_the_budget(budget: float, seed: int) -> None:
    constraint = Constraint(budget_ms=budget, latency=latency)
    outcome = evolve(ToySpace(), Direct(), constraint.admits, SMALL, np.random.default_rng(seed),
                     seeds=[ToySpace().smallest()])
    assert all(latency(s.arch) <= budget for s in outcome.scored)
    assert latency(outcome.best.arch) <= budget
    assert outcome.best.score == max(s.score for s in outcome.scored)


def test_complexity_bounds_are_respected_too() -> None:
    constraint = Constraint(budget_ms=20.0, latency=latency, max_params=3, params=lambda a: a.genes[0])
    outcome = evolve(ToySpace(), Direct(), constraint.admits, SMALL, np.random.default_rng(0))
    assert all(s.arch.genes[0] <= 3 and latency(s.arch) <= 20.0 for s in outcome.scored)


def test_no_arch_is_scored_twice_within_a_search() -> None:
    fitness = Direct()
    outcome = evolve(ToySpace(), fitness, lambda a: True, SMALL, np.random.default_rng(1))
    assert len(fitness.scored) == len(set(fitness.scored)) == outcome.evaluations


def test_evolution_beats_random_search_with_equal_evaluations() -> None:
    constraint = Constraint(budget_ms=13.0, latency=latency)
    space = ToySpace()
    wins, gaps = 0, []
    for seed in range(5):
        evo = evolve(space, Direct(), constraint.admits, SMALL, np.random.default_rng(seed))
        rnd = random_search(space.sample, Direct(), constraint.admits, evo.evaluations, np.random.default_rng(seed))
        assert rnd.evaluations == evo.evaluations
        wins += evo.best.score >= rnd.best.score
        gaps.append(evo.best.score - rnd.best.score)
    assert wins >= 4 and np.mean(gaps) > 0


def test_history_is_monotone_and_patience_stops_early() -> None:
    cfg = SMALL.model_copy(update={"generations": 50, "patience": 2})
    outcome = evolve(ToySpace(), Direct(), lambda a: latency(a) <= 10, cfg, np.random.default_rng(0))
    assert list(outcome.history) == sorted(outcome.history)
    assert len(outcome.history) < 51
    assert outcome.history[-1] == outcome.history[-3]


def test_seeds_enter_the_first_population() -> None:
    best_known = ToyArch(genes=(4, 1, 4, 1, 3, 1))
    outcome = evolve(ToySpace(), Direct(), lambda a: latency(a) <= 14, SMALL, np.random.default_rng(0),
                     seeds=[best_known])
    assert best_known.id in {s.arch.id for s in outcome.scored}
    assert outcome.best.score >= accuracy(best_known)


def test_screen_keeps_the_top_candidate_and_only_if_it_could_become_a_parent() -> None:
    cfg = SMALL.model_copy(update={"predictor_screen": 4, "generations": 1})
    calls: list[list[ToyArch]] = []

    def screen(candidates: list[ToyArch]) -> np.ndarray:
        calls.append(list(candidates))
        return np.array([accuracy(c) for c in candidates])

    fitness = Direct()
    evolve(ToySpace(), fitness, lambda a: True, cfg, np.random.default_rng(0), screen=screen)
    parents, slots = calls[0], calls[1:]
    floor = min(accuracy(p) for p in parents)
    assert len(parents) == cfg.parents and len(slots) == cfg.mutations + cfg.crossovers
    assert all(len(c) == 4 for c in slots)
    expected = [max(c, key=accuracy).id for c in slots if max(map(accuracy, c)) >= floor]
    assert fitness.scored[cfg.population:] == expected
    assert expected


def test_search_ends_when_no_child_is_worth_measuring() -> None:
    cfg = SMALL.model_copy(update={"predictor_screen": 2, "generations": 30})
    fitness = Direct()
    # rates every arch already scored (the parents) above every new one
    outcome = evolve(ToySpace(), fitness, lambda a: True, cfg, np.random.default_rng(0),
                     screen=lambda c: np.array([float(a.id in fitness.scored) for a in c]))
    assert len(outcome.history) == 1 and outcome.evaluations == cfg.population


def test_nothing_admitted_is_an_error() -> None:
    with pytest.raises(SearchError):
        evolve(ToySpace(), Direct(), lambda a: False, SMALL, np.random.default_rng(0))
    with pytest.raises(SearchError):
        random_search(ToySpace().sample, Direct(), lambda a: False, 3, np.random.default_rng(0))


def test_impossible_budget_names_the_smallest_achievable_latency() -> None:
    constraint = Constraint(budget_ms=5.5, latency=latency)
    with pytest.raises(InfeasibleBudgetError, match=r"'toy-device'.*6\.0000 ms"):
        constraint.check_feasible(ToySpace().smallest(), "toy-device")
    Constraint(budget_ms=6.0, latency=latency).check_feasible(ToySpace().smallest(), "toy-device")


def test_bound_without_its_function_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_macs"):
        Constraint(budget_ms=1.0, latency=latency, max_macs=10)
