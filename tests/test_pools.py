"""FLOPs-level pools: bands, in-band sampling, persistence keyed by the space hash."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elasticvit.space import arch_macs, load_space
from elasticvit.space.pools import FlopsPools, PoolsMismatchError

SPACE = load_space("cifar")
POOLS = FlopsPools.build(SPACE, num_levels=5, num_classes=10, pool_size=60, rng=np.random.default_rng(0))


def test_bands_are_contiguous_and_span_the_space():
    bands = POOLS.bands
    assert POOLS.num_levels == len(bands) == 5
    assert bands[0][0] == arch_macs(SPACE, SPACE.smallest(), 10)
    assert bands[-1][1] == arch_macs(SPACE, SPACE.largest(), 10) + 1
    assert all(a[1] == b[0] for a, b in zip(bands, bands[1:]))
    assert all(len(pool) == 60 and len(set(pool)) == 60 for pool in POOLS.pools)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 4), st.integers(0, 2**32 - 1))
def test_pool_samples_lie_inside_their_band(level, seed):
    arch = POOLS.sample(level, np.random.default_rng(seed))
    lo, hi = POOLS.bands[level]
    macs = arch_macs(SPACE, arch, 10)
    assert lo <= macs < hi
    assert POOLS.level_of(macs) == level
    SPACE.validate_arch(arch)


def test_smallest_of_a_level_is_its_pool_minimum():
    for level in range(POOLS.num_levels):
        smallest = arch_macs(SPACE, POOLS.smallest(level), 10)
        assert smallest == min(arch_macs(SPACE, a, 10) for a in POOLS.pools[level])
        assert POOLS.bands[level][0] <= smallest


def test_level_of_clamps_beyond_the_ends():
    assert POOLS.level_of(0) == 0
    assert POOLS.level_of(10**15) == POOLS.num_levels - 1


def test_building_is_deterministic_given_the_generator():
    again = FlopsPools.build(SPACE, 5, 10, 60, np.random.default_rng(0))
    assert again.bands == POOLS.bands and again.pools == POOLS.pools


def test_save_load_round_trip_and_space_check(tmp_path):
    path = POOLS.save(tmp_path / "pools.json")
    loaded = FlopsPools.load(path, SPACE)
    assert loaded.bands == POOLS.bands and loaded.pools == POOLS.pools
    other = SPACE.model_copy(update={"resolutions": (32,)})
    with pytest.raises(PoolsMismatchError, match="rebuild"):
        FlopsPools.load(path, other)


def test_cached_builds_once_then_loads(tmp_path):
    first = FlopsPools.cached(SPACE, 3, 10, 20, seed=1, cache_dir=tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and SPACE.hash in files[0].name
    second = FlopsPools.cached(SPACE, 3, 10, 20, seed=1, cache_dir=tmp_path)
    assert second.pools == first.pools


@pytest.mark.parametrize("damage", ["{not json", '{"format": 1}', ""])
def test_a_damaged_cached_pools_file_is_rebuilt(tmp_path, damage):
    first = FlopsPools.cached(SPACE, 3, 10, 20, seed=1, cache_dir=tmp_path)
    (path,) = tmp_path.iterdir()
    path.write_text(damage)
    rebuilt = FlopsPools.cached(SPACE, 3, 10, 20, seed=1, cache_dir=tmp_path)
    assert rebuilt.pools == first.pools
    assert FlopsPools.load(path, SPACE).pools == first.pools  # and written back whole
