"""Predicting a subnet's latency on a device from its table: block sum plus the fitted correction.

Search evaluates thousands of archs, so each arch's overhead-free block sum is computed once (the
block enumeration is the expensive part) and cached; a prediction is then a dictionary lookup and
one multiply-add, and ``predict_many`` applies the correction to a whole population at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from elasticvit.latency.correction import compute_ms
from elasticvit.latency.lut import LatencyTable, MissingBlockError
from elasticvit.model.blocks import arch_blocks, space_blocks
from elasticvit.space import Arch, SearchSpace

CACHE_LIMIT = 200_000
"""Cached archs before the cache is cleared (a float per arch; bounds memory in long searches)."""


class LatencyPredictor:
    """``latency(arch) = scale * sum_b (table[b] - per-block overhead) + offset``, in ms."""

    def __init__(self, table: LatencyTable, space: SearchSpace) -> None:
        table.check(space.hash)
        missing = sorted({s.key for s in space_blocks(space, table.num_classes)} - set(table.entries))
        if missing:
            raise MissingBlockError(
                f"the latency table of device '{table.device.name}' lacks {len(missing)} block(s) "
                f"of space '{table.space}', e.g. '{missing[0]}': re-collect it"
            )
        self.table = table
        self.space = space
        self.device = table.device
        self._compute_ms: dict[Arch, float] = {}

    @classmethod
    def from_table(cls, table: LatencyTable, space: SearchSpace) -> LatencyPredictor:
        return cls(table, space)

    @classmethod
    def load(cls, path: str | os.PathLike[str], space: SearchSpace) -> LatencyPredictor:
        return cls(LatencyTable.load(path), space)

    def predict(self, arch: Arch) -> float:
        """Predicted end-to-end latency of ``arch`` in milliseconds."""
        return float(self.table.correction.apply(self.compute_ms(arch)))

    def predict_many(self, archs: Iterable[Arch]) -> np.ndarray:
        """Predicted latencies (ms) of several archs, in order."""
        sums = np.fromiter((self.compute_ms(a) for a in archs), dtype=np.float64)
        return np.asarray(self.table.correction.apply(sums), dtype=np.float64)

    def block_sum_ms(self, arch: Arch) -> float:
        """The plain sum of the table entries of the arch's blocks (no correction)."""
        return float(self.table.medians(self.block_keys(arch)).sum())

    def block_keys(self, arch: Arch) -> list[str]:
        return [b.key for b in arch_blocks(self.space, arch, self.table.num_classes)]

    def compute_ms(self, arch: Arch) -> float:
        """Block sum minus the per-block call overhead (the correction's input); cached per arch."""
        cached = self._compute_ms.get(arch)
        if cached is None:
            keys = self.block_keys(arch)
            block_sum = float(self.table.medians(keys).sum())
            cached = compute_ms(block_sum, len(keys), self.table.overhead_per_block_ms)
            if len(self._compute_ms) >= CACHE_LIMIT:
                self._compute_ms.clear()
            self._compute_ms[arch] = cached
        return cached
