"""Stand-ins shared by the search tests (no tests here): archs are tuples of small integers.

Latency grows with every gene; accuracy favours some genes more than their latency cost, so the
best arch under a budget is not simply the largest admitted one; the loss favours other genes.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

CHOICES = (1, 2, 3, 4)
GENES = 6
WEIGHTS = np.array([3.0, 0.5, 2.0, 0.2, 1.5, 1.0])


class ToyArch(BaseModel):
    model_config = ConfigDict(frozen=True)

    genes: tuple[int, ...]

    @property
    def id(self) -> str:
        return "g" + "".join(map(str, self.genes))


class ToySpace:
    def sample(self, rng: np.random.Generator) -> ToyArch:
        return ToyArch(genes=tuple(int(g) for g in rng.choice(CHOICES, size=GENES)))

    def smallest(self) -> ToyArch:
        return ToyArch(genes=(min(CHOICES),) * GENES)

    def largest(self) -> ToyArch:
        return ToyArch(genes=(max(CHOICES),) * GENES)

    def mutate(self, arch: ToyArch, rng: np.random.Generator, prob: float) -> ToyArch:
        genes = [int(rng.choice(CHOICES)) if rng.random() < prob else g for g in arch.genes]
        return ToyArch(genes=tuple(genes))

    def crossover(self, a: ToyArch, b: ToyArch, rng: np.random.Generator) -> ToyArch:
        pick = rng.random(GENES) < 0.5
        return ToyArch(genes=tuple(int(x if p else y) for x, y, p in zip(a.genes, b.genes, pick)))

    def validate_arch(self, arch: ToyArch) -> None:
        if len(arch.genes) != GENES or any(g not in CHOICES for g in arch.genes):
            raise ValueError(f"invalid toy arch {arch.genes}")


def latency(arch: ToyArch) -> float:
    return float(sum(arch.genes))


def accuracy(arch: ToyArch) -> float:
    return float(np.log1p(WEIGHTS * np.array(arch.genes)).sum())


def loss(arch: ToyArch) -> float:
    """Lower for larger archs too, but weighting the genes the other way round: under a budget, the
    arch with the lowest loss is not the most accurate one."""
    return float(20.0 - np.log1p(WEIGHTS[::-1] * np.array(arch.genes)).sum())


class ToyScorer:
    """Counts calls, so tests can tell measured from cached."""

    samples = 100

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, arch: ToyArch) -> tuple[float, float]:
        self.calls += 1
        return accuracy(arch), loss(arch)
