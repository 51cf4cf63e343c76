"""Supernet: extraction equivalence, block structure, weights-only subnet files, training use."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from elasticvit.model import Supernet, SubnetModel, load_subnet, save_subnet
from elasticvit.nn.static import build_block
from elasticvit.space import load_space
from elasticvit.space.specs import arch_blocks, space_blocks

SPACES = {name: load_space(name) for name in ("cifar", "digits", "imagenet")}
seeds = st.integers(0, 2**32 - 1)


def randomised(net: Supernet) -> Supernet:
    """Non-trivial norm affines and BN statistics, so equivalence checks cover them."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d | torch.nn.LayerNorm):
                module.weight.copy_(1 + 0.2 * torch.randn(module.weight.shape, generator=gen))
                module.bias.copy_(0.2 * torch.randn(module.bias.shape, generator=gen))
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(0.1 * torch.randn(module.running_mean.shape, generator=gen))
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=gen) + 0.5)
    return net.eval()


@pytest.fixture(scope="module")
def cifar_net() -> Supernet:
    return randomised(Supernet(SPACES["cifar"], 10))


@pytest.fixture(scope="module", params=[False, True], ids=["shared", "switchable-scales"])
def extraction_net(request: pytest.FixtureRequest) -> Supernet:
    """The cifar supernet, and one with switchable scales set away from 1, so extraction has to fold
    the right row of each."""
    net = randomised(Supernet(SPACES["cifar"], 10, switchable_scales=request.param))
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("switch.scales"):
                p.copy_(1 + 0.5 * torch.randn(p.shape, generator=torch.Generator().manual_seed(len(name))))
    return net


@pytest.fixture(scope="module")
def imagenet_net() -> Supernet:
    return randomised(Supernet(SPACES["imagenet"], 1000))


def check_extraction(net: Supernet, arch, batch: int = 2) -> None:
    net.set_active(arch)
    x = torch.randn(batch, 3, arch.resolution, arch.resolution, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = net(x)
        static = net.extract(arch).eval()
        got = static(x)
    assert (expected - got).abs().max().item() < 1e-5
    assert static.arch == arch
    assert not any(isinstance(m, torch.nn.BatchNorm2d) and type(m) is not torch.nn.BatchNorm2d for m in static.modules())


@settings(max_examples=8, deadline=None)
@given(seeds)
def test_cifar_extraction_is_equivalent(extraction_net, seed):
    check_extraction(extraction_net, SPACES["cifar"].sample(np.random.default_rng(seed)))


def test_cifar_extremes_extract_equivalently(extraction_net):
    for arch in (SPACES["cifar"].smallest(), SPACES["cifar"].largest()):
        check_extraction(extraction_net, arch)


@settings(max_examples=3, deadline=None)
@given(seeds)
def test_imagenet_extraction_is_equivalent_at_the_smallest_resolution(imagenet_net, seed):
    space = SPACES["imagenet"]
    arch = space.sample(np.random.default_rng(seed)).model_copy(update={"resolution": min(space.resolutions)})
    check_extraction(imagenet_net, arch, batch=1)


def test_extracted_model_is_made_of_the_arch_blocks_in_order(cifar_net):
    space = SPACES["cifar"]
    arch = space.sample(np.random.default_rng(5))
    static = cifar_net.extract(arch)
    specs = arch_blocks(space, arch, 10)
    blocks = [*static.features, static.head]
    assert [type(b) for b in blocks] == [type(build_block(s)) for s in specs]
    x = torch.zeros(specs[0].input_shape(2))
    for block, spec, following in zip(blocks, specs, [*specs[1:], None], strict=True):
        assert tuple(x.shape) == spec.input_shape(2)
        x = block.eval()(x)
        if following is not None:
            assert tuple(x.shape) == following.input_shape(2)
    assert x.shape == (2, 10)


def test_extraction_copies_weights_and_keeps_the_active_arch(cifar_net):
    space = SPACES["cifar"]
    active = space.sample(np.random.default_rng(0))
    cifar_net.set_active(active)
    static = cifar_net.extract(space.smallest())
    assert cifar_net.active_arch == active
    shared = {p.data_ptr() for p in cifar_net.parameters()}
    assert not any(p.data_ptr() in shared for p in static.parameters())


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(sorted(SPACES)), seeds)
def test_space_blocks_cover_every_arch_block(name, seed):
    space = SPACES[name]
    keys = {s.key for s in _space_blocks(name)}
    arch = space.sample(np.random.default_rng(seed))
    assert {s.key for s in arch_blocks(space, arch, 10)} <= keys


_BLOCKS: dict = {}


def _space_blocks(name):
    if name not in _BLOCKS:
        _BLOCKS[name] = space_blocks(SPACES[name], 10)
    return _BLOCKS[name]


def test_space_block_keys_are_unique_and_documented():
    specs = _space_blocks("imagenet")
    assert len({s.key for s in specs}) == len(specs)
    assert "transformer-hw8-c96-mlp3-v2-heads6" in {s.key for s in specs}
    assert "head-hw4-c320-e6-w1984-n10" in {s.key for s in specs}
    assert all(s.key.startswith(f"{s.kind}-hw{s.hw}-") for s in specs)


def test_saved_subnet_loads_weights_only_with_its_arch(cifar_net, tmp_path):
    space = SPACES["cifar"]
    arch = space.sample(np.random.default_rng(9))
    static = cifar_net.extract(arch).eval()
    path = tmp_path / "subnet.pt"
    save_subnet(path, static, extra={"val_acc": 0.5})
    payload = torch.load(path, weights_only=True)
    assert payload["arch"] == arch.model_dump_json()
    loaded = load_subnet(path)
    assert isinstance(loaded, SubnetModel) and loaded.arch == arch and loaded.extra == {"val_acc": 0.5}
    x = torch.randn(2, 3, arch.resolution, arch.resolution)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), static(x), rtol=0, atol=0)


def test_training_updates_only_the_weights_the_arch_uses():
    space = SPACES["cifar"]
    net = Supernet(space, 10, drop_path=0.1).train()
    arch = space.smallest()
    net.set_active(arch)
    x = torch.randn(4, 3, arch.resolution, arch.resolution)
    torch.nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 2, 3])).backward()
    deepest = net.stages[2][-1]  # S3 has two layers; the smallest arch runs one
    assert all(p.grad is None for p in deepest.parameters())
    conv = net.first_conv.conv
    assert conv.weight.grad[: arch.stem_width].abs().sum() > 0
    assert conv.weight.grad[arch.stem_width :].abs().sum() == 0


def test_set_active_rejects_archs_outside_the_space(cifar_net):
    bad = SPACES["cifar"].smallest().model_copy(update={"resolution": 30})
    with pytest.raises(ValueError, match="resolution 30"):
        cifar_net.set_active(bad)


def test_per_head_biases_and_tables_are_kept_out_of_weight_decay(cifar_net):
    names = cifar_net.no_weight_decay()
    params = dict(cifar_net.named_parameters())
    assert names and all(n in params for n in names)
    assert {n.rsplit(".", 1)[-1] for n in names} == {"table", "qk_bias", "v_bias"}


@pytest.mark.parametrize("zero_init_last", [True, False])
def test_zero_init_last_starts_every_residual_block_as_the_identity(zero_init_last):
    space = SPACES["cifar"]
    torch.manual_seed(0)
    net = Supernet(space, 10, zero_init_last=zero_init_last).eval()
    deep = space.largest()
    # the same arch with every stage cut to its first layer: the layers it drops are residual
    shallow = deep.model_copy(update={"stages": tuple(
        s.model_copy(update={"layers": s.layers[:1]}) for s in deep.stages
    )})
    x = torch.randn(2, 3, deep.resolution, deep.resolution)
    with torch.no_grad():
        net.set_active(deep)
        deep_logits = net(x)
        net.set_active(shallow)
        shallow_logits = net(x)
    assert torch.allclose(deep_logits, shallow_logits, atol=1e-5) == zero_init_last
    # extraction keeps the zeroed weights: the static deep model computes the same
    with torch.no_grad():
        torch.testing.assert_close(net.extract(deep).eval()(x), deep_logits, rtol=1e-4, atol=1e-5)


def test_each_transformer_configuration_owns_its_scale():
    """Two archs that differ only in one layer's MLP ratio share that layer's weights but not its
    fc2 scale: changing one's scale moves its logits and leaves the other's."""
    space = SPACES["cifar"]
    net = Supernet(space, 10, switchable_scales=True).eval()
    base = space.largest()
    last = base.stages[-1]
    layers = [last.layers[0].model_copy(update={"mlp_ratio": r}) for r in sorted(space.stages[-1].mlp_ratios)[:2]]
    small, large = (base.model_copy(update={"stages": (*base.stages[:-1], last.model_copy(
        update={"layers": (layer, *last.layers[1:])}))}) for layer in layers)
    x = torch.randn(2, 3, base.resolution, base.resolution, generator=torch.Generator().manual_seed(0))

    def logits(arch):
        net.set_active(arch)
        with torch.no_grad():
            return net(x)

    before = {a: logits(a) for a in (small, large)}
    fc2 = net.stages[-1][1].mlp.fc2  # the stage's first transformer layer (after its downsample)
    width = last.width
    with torch.no_grad():
        fc2.switch.scales[fc2.switch.index[(width * layers[0].mlp_ratio, width)]] *= 3.0
    assert not torch.allclose(logits(small), before[small])
    assert torch.equal(logits(large), before[large])


def test_switchable_scales_stay_out_of_weight_decay_and_reject_unknown_shapes():
    net = Supernet(SPACES["cifar"], 10, switchable_scales=True)
    scales = {n for n, _ in net.named_parameters() if n.endswith("switch.scales")}
    assert len(scales) == 2 * sum(max(s.depths) for s in SPACES["cifar"].stages if s.kind == "transformer")
    assert scales <= net.no_weight_decay()
    fc2 = net.stages[-1][1].mlp.fc2
    fc2.set_active(7, 5)
    with pytest.raises(ValueError, match=r"no switchable scale for active shape \(7, 5\)"):
        fc2(torch.zeros(1, 7))
