"""FLOPs-level pools: archs grouped by multiply-adds, for complexity-aware sampling.

The space's MACs range is split into ``num_levels`` contiguous bands at the quantiles of the MACs of
uniformly drawn archs, so every band holds the same share of the space's sampling distribution and
fills equally fast (bands of equal width would leave the extreme ones nearly empty). The first band
starts at the smallest subnet's MACs and the last ends at the largest's. Each level keeps a pool of
up to ``pool_size`` distinct archs drawn with ``SearchSpace.sample`` and kept if inside the band
(rejection sampling), so ``sample(level)`` is the space's sampling distribution restricted to the
band. ElasticViT pre-builds 150,000 archs per level; a few thousand are plenty to sample from here.

Pools are saved as JSON (archs as their ids) tagged with the space hash and a format version;
``cached`` builds once per (space hash, levels, classes, pool size, seed) and reloads afterwards.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
from pathlib import Path

import numpy as np

from elasticvit.errors import ElasticViTError
from elasticvit.space.arch import Arch
from elasticvit.space.complexity import arch_macs
from elasticvit.space.space import SearchSpace
from elasticvit.utils.atomic import write_json

log = logging.getLogger(__name__)

POOLS_FORMAT = 1
PROBE_ARCHS_PER_LEVEL = 200  # archs drawn to place the band edges
MAX_DRAWS_PER_ARCH = 20  # give up filling a band after this many draws per wanted arch


class PoolsMismatchError(ElasticViTError):
    """A pools file was built for another space, or with another format version."""


class FlopsPools:
    def __init__(
        self, space: SearchSpace, num_classes: int, bands: list[tuple[int, int]], pools: list[list[Arch]]
    ) -> None:
        if len(bands) != len(pools) or any(not pool for pool in pools):
            raise ValueError("every level needs a band and a non-empty pool")
        self.space, self.num_classes = space, num_classes
        self.bands = bands
        self.pools = pools
        self._smallest: dict[int, Arch] = {}
        self._lower_edges = [lo for lo, _ in bands]

    @classmethod
    def build(
        cls, space: SearchSpace, num_levels: int, num_classes: int, pool_size: int, rng: np.random.Generator
    ) -> FlopsPools:
        """Place the band edges, then draw archs until every level holds ``pool_size`` of them."""
        low = arch_macs(space, space.smallest(), num_classes)
        high = arch_macs(space, space.largest(), num_classes)
        probe = [arch_macs(space, space.sample(rng), num_classes) for _ in range(PROBE_ARCHS_PER_LEVEL * num_levels)]
        inner = np.quantile(probe, np.arange(1, num_levels) / num_levels).round().astype(int).tolist()
        edges = [low, *inner, high + 1]
        bands = [(edges[i], edges[i + 1]) for i in range(num_levels)]
        pools: list[dict[Arch, None]] = [{} for _ in range(num_levels)]
        for _ in range(MAX_DRAWS_PER_ARCH * pool_size * num_levels):
            arch = space.sample(rng)
            level = bisect.bisect_right(edges, arch_macs(space, arch, num_classes)) - 1
            if len(pools[level]) < pool_size:
                pools[level][arch] = None
                if all(len(p) == pool_size for p in pools):
                    break
        empty = [i for i, pool in enumerate(pools) if not pool]
        if empty:
            raise ValueError(f"levels {empty} of space '{space.name}' got no arch: use fewer levels")
        return cls(space, num_classes, bands, [list(pool) for pool in pools])

    @classmethod
    def cached(
        cls, space: SearchSpace, num_levels: int, num_classes: int, pool_size: int, seed: int,
        cache_dir: str | os.PathLike[str],
    ) -> FlopsPools:
        """Load the pools built with these settings from ``cache_dir``, building and saving them once."""
        name = f"pools-{space.name}-{space.hash}-v{POOLS_FORMAT}-l{num_levels}-n{pool_size}-c{num_classes}-s{seed}.json"
        path = Path(cache_dir) / name
        if path.exists():
            try:
                return cls.load(path, space)
            except (ValueError, KeyError, TypeError, OSError) as exc:  # derived: rebuilt, never trusted
                log.warning("%s is damaged (%s: %s); rebuilding it", path, type(exc).__name__, exc)
        pools = cls.build(space, num_levels, num_classes, pool_size, np.random.default_rng(seed))
        pools.save(path)
        return pools

    @property
    def num_levels(self) -> int:
        return len(self.bands)

    def sample(self, level: int, rng: np.random.Generator) -> Arch:
        """A uniformly chosen arch of ``level``'s pool."""
        pool = self.pools[level]
        return pool[int(rng.integers(len(pool)))]

    def smallest(self, level: int) -> Arch:
        """The arch with the fewest MACs in ``level``'s pool (ties broken by id)."""
        if level not in self._smallest:
            macs = lambda a: (arch_macs(self.space, a, self.num_classes), a.id)  # noqa: E731
            self._smallest[level] = min(self.pools[level], key=macs)
        return self._smallest[level]

    def level_of(self, macs: int) -> int:
        """The level whose band holds ``macs`` (the first or last level beyond the ends)."""
        return min(max(bisect.bisect_right(self._lower_edges, macs) - 1, 0), self.num_levels - 1)

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_json(path, {
            "format": POOLS_FORMAT,
            "space": self.space.name,
            "space_hash": self.space.hash,
            "num_classes": self.num_classes,
            "bands": [list(b) for b in self.bands],
            "pools": [[a.id for a in pool] for pool in self.pools],
        })

    @classmethod
    def load(cls, path: str | os.PathLike[str], space: SearchSpace) -> FlopsPools:
        data = json.loads(Path(path).read_text())
        if data.get("format") != POOLS_FORMAT:
            raise PoolsMismatchError(f"{path}: pools format {data.get('format')}, expected {POOLS_FORMAT}: rebuild")
        if data["space_hash"] != space.hash:
            raise PoolsMismatchError(
                f"{path}: built for space '{data['space']}' with hash {data['space_hash']}, "
                f"but the space in use ('{space.name}') has hash {space.hash}: rebuild the pools"
            )
        pools = [[Arch.parse(arch_id) for arch_id in pool] for pool in data["pools"]]
        return cls(space, data["num_classes"], [(lo, hi) for lo, hi in data["bands"]], pools)
