"""Evolutionary search under a constraint, generic over the arch space, the fitness and the constraint.

The paper's recipe (as in once-for-all and AutoFormer): an initial population of admitted archs,
then per generation the top-``parents`` survive and ``mutations`` mutated and ``crossovers``
recombined children of random parents join them. Every candidate is checked against the constraint
before it is scored (a latency prediction costs microseconds, an accuracy a val pass), so every
arch the search scores, and therefore the one it returns, satisfies the constraint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from elasticvit.config.experiment import SearchConfig
from elasticvit.search.outcome import Scored, SearchOutcome, best_of

MAX_DRAWS_PER_SLOT = 200
"""Candidates drawn for one population slot before giving up on it (tight budgets reject most)."""


class ArchSpace(Protocol):
    def sample(self, rng: np.random.Generator) -> Any: ...
    def mutate(self, arch: Any, rng: np.random.Generator, prob: float) -> Any: ...
    def crossover(self, a: Any, b: Any, rng: np.random.Generator) -> Any: ...


class Fitness(Protocol):
    """The score of each arch, higher is better (``AccuracyEvaluator`` gives the search's objective)."""

    def evaluate_many(self, archs: Sequence[Any]) -> list[float]: ...


Screen = Callable[[list[Any]], np.ndarray]
"""Predicted score of candidates: used to choose which of them are worth scoring."""

GenerationCallback = Callable[[int, Scored, int], None]
"""Called after each generation with its index, the best so far and the distinct archs scored."""


class SearchError(RuntimeError):
    """The search could not draw a single admitted arch."""


def evolve(
    space: ArchSpace,
    fitness: Fitness,
    admits: Callable[[Any], bool],
    cfg: SearchConfig,
    rng: np.random.Generator,
    *,
    sample: Callable[[np.random.Generator], Any] | None = None,
    seeds: Sequence[Any] = (),
    screen: Screen | None = None,
    on_generation: GenerationCallback | None = None,
) -> SearchOutcome:
    """Search for the arch with the highest ``fitness`` that ``admits`` accepts.

    ``sample`` draws the initial population (default ``space.sample``; the device search passes the
    FLOPs pools so every size is represented); ``seeds`` go in first (archs already known to be
    good, e.g. from the cache). With ``screen`` and ``cfg.predictor_screen > 1``, each child slot
    draws that many admitted candidates and keeps the one ``screen`` ranks highest, and only if
    ``screen`` rates it at least as high as the weakest parent: a child predicted not to make the
    next parent set is not worth a measurement. A generation left with no child ends the search.

    The search runs ``cfg.generations`` generations after the initial one, or stops early once the
    best score has not improved for ``cfg.patience`` generations.
    """
    draw = sample or space.sample
    seen: dict[str, Scored] = {}
    population = _initial_population(seeds, draw, admits, cfg.population, rng)
    if not population:
        raise SearchError(f"no admitted arch among {MAX_DRAWS_PER_SLOT * cfg.population} draws")
    history: list[float] = []
    stale = 0
    for generation in range(cfg.generations + 1):
        ranked = _score(population, fitness, seen)
        best = best_of(list(seen.values()))
        stale = stale + 1 if history and best.score <= history[-1] else 0
        history.append(best.score)
        if on_generation is not None:
            on_generation(generation, best, len(seen))
        if generation == cfg.generations or (cfg.patience is not None and stale >= cfg.patience):
            break
        parents = [s.arch for s in ranked[: cfg.parents]]
        children = _offspring(space, parents, admits, cfg, rng, seen, screen)
        if not children:
            break  # nothing new worth scoring: converged (or the budget admits nothing new)
        population = parents + children
    return SearchOutcome(best=best_of(list(seen.values())), scored=tuple(seen.values()), history=tuple(history))


def _initial_population(
    seeds: Sequence[Any],
    draw: Callable[[np.random.Generator], Any],
    admits: Callable[[Any], bool],
    size: int,
    rng: np.random.Generator,
) -> list[Any]:
    chosen: dict[str, Any] = {}
    for arch in seeds:
        if len(chosen) < size and admits(arch):
            chosen.setdefault(arch.id, arch)
    for _ in range(MAX_DRAWS_PER_SLOT * size):
        if len(chosen) >= size:
            break
        arch = draw(rng)
        if arch.id not in chosen and admits(arch):
            chosen[arch.id] = arch
    return list(chosen.values())


def _score(population: list[Any], fitness: Fitness, seen: dict[str, Scored]) -> list[Scored]:
    """Score the archs not scored yet by this search, record them, return the population best first."""
    new = [a for a in population if a.id not in seen]
    for arch, score in zip(new, fitness.evaluate_many(new), strict=True):
        seen[arch.id] = Scored(arch, score)
    return sorted((seen[a.id] for a in population), key=lambda s: (-s.score, s.arch.id))


def _offspring(
    space: ArchSpace,
    parents: list[Any],
    admits: Callable[[Any], bool],
    cfg: SearchConfig,
    rng: np.random.Generator,
    seen: dict[str, Scored],
    screen: Screen | None,
) -> list[Any]:
    """``cfg.mutations`` mutants and ``cfg.crossovers`` crosses: admitted, new to this search, distinct."""

    def mutant() -> Any:
        return space.mutate(parents[rng.integers(len(parents))], rng, cfg.mutation_prob)

    def cross() -> Any:
        a, b = rng.choice(len(parents), size=2, replace=len(parents) < 2)
        return space.crossover(parents[a], parents[b], rng)

    taken: set[str] = set(seen)
    screening = screen is not None and cfg.predictor_screen > 1
    floor = float(np.min(screen(parents))) if screening else -np.inf  # type: ignore[misc]
    children: list[Any] = []
    for make, count in ((mutant, cfg.mutations), (cross, cfg.crossovers)):
        for _ in range(count):
            candidates = _draw_new(make, admits, taken, cfg.predictor_screen if screening else 1)
            if not candidates:
                continue  # this slot found nothing new and admitted: the generation is a bit smaller
            taken.update(c.id for c in candidates)
            if screening:
                rated = screen(candidates)  # type: ignore[misc]
                if rated.max() < floor:
                    continue
                candidates = [candidates[int(np.argmax(rated))]]
            children.append(candidates[0])
    return children


def _draw_new(make: Callable[[], Any], admits: Callable[[Any], bool], taken: set[str], wanted: int) -> list[Any]:
    """Up to ``wanted`` distinct admitted archs not in ``taken``."""
    found: dict[str, Any] = {}
    for _ in range(MAX_DRAWS_PER_SLOT * wanted):
        if len(found) >= wanted:
            break
        arch = make()
        if arch.id not in taken and arch.id not in found and admits(arch):
            found[arch.id] = arch
    return list(found.values())
