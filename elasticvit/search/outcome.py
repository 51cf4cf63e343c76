"""What one search (evolutionary or random) under one constraint returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scored:
    arch: Any
    score: float
    """What the search maximises: val top-1, or minus the val cross-entropy (``search.rank_by``)."""


@dataclass(frozen=True)
class SearchOutcome:
    """The best admitted arch, every arch scored on the way, and the best score per generation."""

    best: Scored
    scored: tuple[Scored, ...]
    history: tuple[float, ...] = field(default=())

    @property
    def evaluations(self) -> int:
        """Distinct archs whose accuracy the search asked for (cached or measured)."""
        return len(self.scored)


def best_of(scored: list[Scored]) -> Scored:
    """Highest score; ties go to the smaller arch id, so the choice does not depend on order."""
    return min(scored, key=lambda s: (-s.score, s.arch.id))
