"""Analytic MACs and params: bounds over the space, agreement with torch's FLOP counter."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from elasticvit.model import SubnetModel
from elasticvit.space import arch_macs, arch_params, load_space, space_size
from elasticvit.space.specs import arch_blocks

SPACES = {name: load_space(name) for name in ("cifar", "digits", "imagenet")}
seeds = st.integers(0, 2**32 - 1)


def counted_macs(model: torch.nn.Module, resolution: int) -> int:
    """torch's count for one image (it reports 2 FLOPs per multiply-add)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.eval()(torch.zeros(1, 3, resolution, resolution))
    return counter.get_total_flops() // 2


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(SPACES)), seeds)
def test_sampled_archs_lie_between_smallest_and_largest(name, seed):
    space = SPACES[name]
    arch = space.sample(np.random.default_rng(seed))
    for measure in (arch_macs, arch_params):
        low, high = measure(space, space.smallest(), 10), measure(space, space.largest(), 10)
        assert low <= measure(space, arch, 10) <= high


@settings(max_examples=12, deadline=None)
@given(seeds)
def test_cifar_macs_and_params_agree_with_torch_exactly(seed):
    space = SPACES["cifar"]
    arch = space.sample(np.random.default_rng(seed))
    model = SubnetModel(space, arch, 10)
    assert counted_macs(model, arch.resolution) == arch_macs(space, arch, 10)
    assert sum(p.numel() for p in model.parameters()) == arch_params(space, arch, 10)


@settings(max_examples=3, deadline=None)
@given(seeds)
def test_imagenet_macs_and_params_agree_with_torch_at_the_smallest_resolution(seed):
    space = SPACES["imagenet"]
    arch = space.sample(np.random.default_rng(seed)).model_copy(update={"resolution": min(space.resolutions)})
    model = SubnetModel(space, arch, 1000)
    assert counted_macs(model, arch.resolution) == arch_macs(space, arch, 1000)
    assert sum(p.numel() for p in model.parameters()) == arch_params(space, arch, 1000)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_block_macs_agree_with_torch_for_every_block_of_an_arch(name):
    space = SPACES[name]
    from elasticvit.nn.static import build_block

    for spec in arch_blocks(space, space.sample(np.random.default_rng(3)), 10):
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            build_block(spec).eval()(torch.zeros(spec.input_shape(1)))
        assert counter.get_total_flops() // 2 == spec.macs, spec.key


def test_imagenet_space_matches_the_paper_range():
    space = SPACES["imagenet"]
    low, high = arch_macs(space, space.smallest(), 1000), arch_macs(space, space.largest(), 1000)
    assert low == pytest.approx(37e6, rel=0.05)
    assert high == pytest.approx(3.2e9, rel=0.05)


def test_cifar_space_meets_its_design_targets():
    """Small enough to train on 2 CPU cores, wide enough for subnets to differ (docs/search_spaces.md)."""
    space = SPACES["cifar"]
    low, high = arch_macs(space, space.smallest(), 10), arch_macs(space, space.largest(), 10)
    assert low < 5e6
    assert 8 * low <= high <= 40e6
    assert arch_params(space, space.largest(), 10) < 1.5e6
    assert space_size(space) > 10**7
    # attention runs on no grid smaller than 4x4 tokens at the full resolution
    tokens = [spec.hw for spec in arch_blocks(space, space.largest(), 10) if spec.kind == "transformer"]
    assert min(tokens) == 4
