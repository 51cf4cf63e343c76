"""Search on the real search space (no model): operators stay in the space, the budget holds."""

from __future__ import annotations

import numpy as np
import pytest

from elasticvit.config import SearchConfig
from elasticvit.search.constraints import Constraint
from elasticvit.search.evolution import evolve
from elasticvit.search.predictor import AccuracyPredictor
from elasticvit.space import Arch, arch_macs, load_space

SPACE = load_space("imagenet")
CFG = SearchConfig(population=16, generations=4, parents=4, mutations=8, crossovers=8, mutation_prob=0.5)


def macs(arch: Arch) -> float:
    return arch_macs(SPACE, arch, 10) / 1e6


class Synthetic:
    """A fitness that rewards size with diminishing returns, and records every arch it scores."""

    def __init__(self) -> None:
        self.archs: list[Arch] = []

    def evaluate_many(self, archs):
        self.archs += archs
        return [float(np.log(macs(a))) + 0.01 * (a.resolution % 7) for a in archs]


@pytest.mark.parametrize("seed", [0, 1])
def test_mutation_and_crossover_children_are_valid_and_within_budget(seed: int) -> None:
    budget = float(np.median([macs(SPACE.sample(np.random.default_rng(i))) for i in range(30)]))
    fitness = Synthetic()
    outcome = evolve(SPACE, fitness, Constraint(budget, macs).admits, CFG, np.random.default_rng(seed),
                     seeds=[SPACE.smallest()])
    assert len(fitness.archs) > CFG.population  # children were produced and scored
    for arch in fitness.archs:
        assert SPACE.validate_arch(arch) is arch
        assert macs(arch) <= budget
        assert Arch.parse(arch.id) == arch == Arch.model_validate(arch.model_dump(mode="json"))
    assert outcome.best.arch in fitness.archs


def test_operators_keep_every_arch_in_the_space() -> None:
    rng = np.random.default_rng(3)
    archs = [SPACE.sample(rng) for _ in range(20)]
    for i in range(200):
        a, b = archs[rng.integers(20)], archs[rng.integers(20)]
        child = SPACE.mutate(a, rng, 0.5) if i % 2 else SPACE.crossover(a, b, rng)
        assert SPACE.contains(child)


def test_predictor_reads_real_arch_json() -> None:
    rng = np.random.default_rng(0)
    archs = [SPACE.sample(rng) for _ in range(80)]
    predictor = AccuracyPredictor.fit([a.id for a in archs], [a.model_dump(mode="json") for a in archs], [np.log(macs(a)) for a in archs], 0)
    held_out = [SPACE.sample(rng) for _ in range(30)]
    predicted = predictor.predict([a.model_dump(mode="json") for a in held_out])
    assert np.corrcoef(predicted, [np.log(macs(a)) for a in held_out])[0, 1] > 0.7
