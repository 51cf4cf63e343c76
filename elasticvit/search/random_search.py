"""Random search: the baseline evolution has to beat with the same number of accuracy evaluations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from elasticvit.search.evolution import MAX_DRAWS_PER_SLOT, Fitness, SearchError
from elasticvit.search.outcome import Scored, SearchOutcome, best_of


def random_search(
    sample: Callable[[np.random.Generator], Any],
    fitness: Fitness,
    admits: Callable[[Any], bool],
    evaluations: int,
    rng: np.random.Generator,
) -> SearchOutcome:
    """Score ``evaluations`` distinct admitted archs drawn by ``sample``; return the best.

    Pass the same ``sample`` as the evolutionary search's initial population, so the two differ
    only in what evolution adds: selection, mutation and crossover.
    """
    chosen: dict[str, Any] = {}
    for _ in range(MAX_DRAWS_PER_SLOT * evaluations):
        if len(chosen) >= evaluations:
            break
        arch = sample(rng)
        if arch.id not in chosen and admits(arch):
            chosen[arch.id] = arch
    if not chosen:
        raise SearchError(f"no admitted arch among {MAX_DRAWS_PER_SLOT * evaluations} draws")
    archs = list(chosen.values())
    scored = tuple(Scored(a, score) for a, score in zip(archs, fitness.evaluate_many(archs), strict=True))
    best = best_of(list(scored))
    return SearchOutcome(best=best, scored=scored, history=(best.score,))
