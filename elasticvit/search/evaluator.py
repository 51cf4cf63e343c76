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

from elasticvit.search.cache import CacheContext, Evaluation, EvaluationCache


class Scorer(Protocol):
    """Measures a subnet's top-1 accuracy; ``samples`` is how many images it scores on."""

    samples: int

    def __call__(self, arch: Any) -> float: ...


class EvaluatorStats(BaseModel):
    """How many accuracy requests were answered from the cache and how many were measured."""

    hits: int = 0
    misses: int = 0
    measure_s: float = 0.0


class AccuracyEvaluator:
    """Accuracy per arch, cached by (arch id, supernet hash, data hash) in an ``EvaluationCache``."""

    def __init__(
        self,
        scorer: Scorer,
        cache: EvaluationCache,
        context: CacheContext,
        encode: Callable[[Any], dict[str, Any]] | None = None,
    ) -> None:
        self.scorer = scorer
        self.cache = cache
        self.context = context
        self.encode = encode or _pydantic_json
        self.stats = EvaluatorStats()

    def evaluate(self, arch: Any) -> float:
        return self.evaluate_many([arch])[0]

    def evaluate_many(self, archs: Sequence[Any]) -> list[float]:
        """Accuracies in the order given; each distinct uncached arch is measured exactly once."""
        known = {arch_id: e.accuracy for arch_id, e in self.cache.get_many(self.context, [a.id for a in archs]).items()}
        for arch in archs:
            if arch.id in known:
                self.stats.hits += 1
                continue
            known[arch.id] = self._measure(arch)
            self.stats.misses += 1
        return [known[a.id] for a in archs]

    def cached(self) -> list[Evaluation]:
        """Everything measured so far for this supernet and data (by any search, any device)."""
        return self.cache.all(self.context)

    def _measure(self, arch: Any) -> float:
        start = time.perf_counter()
        accuracy = float(self.scorer(arch))
        seconds = time.perf_counter() - start
        self.stats.measure_s += seconds
        self.cache.put(
            self.context,
            Evaluation(
                arch_id=arch.id,
                accuracy=accuracy,
                samples=self.scorer.samples,
                seconds=seconds,
                arch=self.encode(arch),
            ),
        )
        return accuracy


def _pydantic_json(arch: Any) -> dict[str, Any]:
    return arch.model_dump(mode="json")
