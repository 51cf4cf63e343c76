"""Predicting a subnet's latency on a device from its table: block sum plus the fitted correction.

Search evaluates thousands of archs, so each arch's features (overhead-free block sum and block
count per block kind) are computed once (the block enumeration is the expensive part) and cached; a
prediction is then a dictionary lookup and a dot product, and ``predict_many`` applies the
correction to a whole population at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from elasticvit.latency.correction import KINDS, features, kind_shares
from elasticvit.latency.devices import DeviceSpec
from elasticvit.latency.lut import LatencyTable, MissingBlockError, TableMismatchError
from elasticvit.space import Arch, SearchSpace
from elasticvit.space.specs import BlockSpec, arch_blocks, space_blocks

CACHE_LIMIT = 200_000
"""Cached archs before the cache is cleared (19 floats per arch; bounds memory in long searches)."""


class LatencyPredictor:
    """``latency(arch) = sum_b (scale[kind_b] * (table[b] - overhead) + per_block[kind_b]) + offset`` (ms)."""

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
        self._features: dict[str, np.ndarray] = {}

    @classmethod
    def from_table(cls, table: LatencyTable, space: SearchSpace) -> LatencyPredictor:
        return cls(table, space)

    @classmethod
    def load(cls, path: str | os.PathLike[str], space: SearchSpace, device: DeviceSpec | None = None) -> LatencyPredictor:
        """The table at ``path`` for ``space``; with ``device``, a table measured on another device
        (its spec's measurement fields differ, e.g. a file copied from another device's folder) is
        refused rather than predicting the wrong device's latency."""
        table = LatencyTable.load(path)
        if device is not None:
            try:
                table.check(space.hash, device)
            except TableMismatchError as exc:
                raise TableMismatchError(f"{path}: {exc}") from None
        return cls(table, space)

    def predict(self, arch: Arch) -> float:
        """Predicted end-to-end latency of ``arch`` in milliseconds."""
        return float(self.table.correction.apply(self.features(arch)))

    def predict_many(self, archs: Iterable[Arch]) -> np.ndarray:
        """Predicted latencies (ms) of several archs, in order."""
        rows = [self.features(a) for a in archs]
        return self.table.correction.apply(np.array(rows)) if rows else np.zeros(0)

    def block_sum_ms(self, arch: Arch) -> float:
        """The plain sum of the table entries of the arch's blocks (no correction)."""
        return float(self.table.medians(self.block_keys(arch)).sum())

    def uncorrected_ms(self, arch: Arch) -> float:
        """The block sum less the call overheads subtracted per block, plus one call: the prediction
        without any fitted term (the correction of a table with no calibration archs)."""
        call = self.table.call_overhead.value(self.table.settings.statistic)
        return float(self.features(arch)[: len(KINDS)].sum()) + call

    def blocks(self, arch: Arch) -> list[BlockSpec]:
        return arch_blocks(self.space, arch, self.table.num_classes)

    def block_keys(self, arch: Arch) -> list[str]:
        return [b.key for b in self.blocks(arch)]

    def features(self, arch: Arch) -> np.ndarray:
        """The correction's inputs (``correction.features``) for ``arch``; cached per arch."""
        # Keyed by the id string: it is cached on the arch and hashes faster than the nested model.
        cached = self._features.get(arch.id)
        if cached is None:
            blocks = self.blocks(arch)
            keys = [b.key for b in blocks]
            latencies = self.table.medians(keys).tolist()  # first: a missing key raises MissingBlockError
            shares = kind_shares(blocks, latencies)
            cached = features(shares, self.table.overhead_per_block_ms, arch.resolution)
            if len(self._features) >= CACHE_LIMIT:
                self._features.clear()
            self._features[arch.id] = cached
        return cached
