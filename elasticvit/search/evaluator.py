"""The accuracy of a subnet, measured once per (arch, supernet, data) and then read from the cache.

Measuring is the expensive part of a search (BN recalibration plus a pass over the val subset, per
subnet), so every measurement goes through ``AccuracyEvaluator``: it answers from the persistent
cache when it can, measures otherwise, and counts both, so a search can report how much it reused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel

from elasticvit.search.cache import CacheContext, Evaluation, EvaluationCache, RankBy


class Scorer(Protocol):
    """Measures a subnet's (top-1 accuracy, mean cross-entropy); ``samples`` is how many images it scores on."""

    samples: int

    def __call__(self, arch: Any) -> tuple[float, float]: ...


class EvaluatorStats(BaseModel):
    """How many accuracy requests were answered from the cache and how many were measured."""

    hits: int = 0
    misses: int = 0
    measure_s: float = 0.0


class AccuracyEvaluator:
    """Accuracy and loss per arch, cached by (arch id, supernet hash, data hash) in an ``EvaluationCache``.

    As a search's fitness it gives each arch's score under ``rank_by``: its top-1, or minus its
    cross-entropy, which ranks subnets with less noise on a small val split (docs/search.md).
    """

    def __init__(
        self,
        scorer: Scorer,
        cache: EvaluationCache,
        context: CacheContext,
        encode: Callable[[Any], dict[str, Any]] | None = None,
        rank_by: RankBy = "accuracy",
    ) -> None:
        self.scorer = scorer
        self.cache = cache
        self.context = context
        self.encode = encode or _pydantic_json
        self.rank_by = rank_by
        self.stats = EvaluatorStats()

    def evaluate_many(self, archs: Sequence[Any]) -> list[float]:
        """Scores under ``rank_by`` in the order given."""
        return [e.score(self.rank_by) for e in self.evaluations(archs)]  # type: ignore[misc]

    def evaluations(self, archs: Sequence[Any]) -> list[Evaluation]:
        """Evaluations in the order given; each distinct arch the cache cannot score is measured exactly once."""
        known = {i: e for i, e in self.cache.get_many(self.context, [a.id for a in archs]).items()
                 if e.score(self.rank_by) is not None}
        for arch in archs:
            if arch.id in known:
                self.stats.hits += 1
                continue
            known[arch.id] = self._measure(arch)
            self.stats.misses += 1
        return [known[a.id] for a in archs]

    def lookup(self, arch: Any) -> Evaluation:
        """The stored evaluation of an arch this search has scored (not counted as a cache hit)."""
        found = self.cache.get(self.context, arch.id)
        if found is None:
            raise KeyError(f"{arch.id} has not been scored for this supernet and data")
        return found

    def cached(self) -> list[Evaluation]:
        """Everything measured so far for this supernet and data (by any search, any device) that has a
        score under ``rank_by`` (entries stored before losses were kept have none)."""
        return [e for e in self.cache.all(self.context) if e.score(self.rank_by) is not None]

    def _measure(self, arch: Any) -> Evaluation:
        start = time.perf_counter()
        accuracy, loss = self.scorer(arch)
        seconds = time.perf_counter() - start
        self.stats.measure_s += seconds
        evaluation = Evaluation(arch_id=arch.id, accuracy=float(accuracy), loss=float(loss),
                                samples=self.scorer.samples, seconds=seconds, arch=self.encode(arch))
        self.cache.put(self.context, evaluation)
        return evaluation


def _pydantic_json(arch: Any) -> dict[str, Any]:
    return arch.model_dump(mode="json")
