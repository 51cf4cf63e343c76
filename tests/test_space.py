"""Search space and Arch as data: loading, hashing, JSON round trips, validation, operators."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elasticvit.space import (
    Arch,
    MBConvLayer,
    SearchSpace,
    SpaceError,
    StageArch,
    TransformerLayer,
    load_space,
    space_size,
)
from elasticvit.space.operators import allowed_widths

SPACES = {name: load_space(name) for name in ("cifar", "digits", "imagenet")}
seeds = st.integers(0, 2**32 - 1)
space_names = st.sampled_from(sorted(SPACES))


def sample(name: str, seed: int) -> Arch:
    return SPACES[name].sample(np.random.default_rng(seed))


def test_load_space_resolves_names_from_the_package_not_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_space("cifar").name == "cifar"
    with pytest.raises(SpaceError, match="known"):
        load_space("no-such-space")


def test_hash_is_stable_short_hex_and_changes_with_the_space():
    space = SPACES["cifar"]
    assert space.hash == load_space("cifar").hash
    assert len(space.hash) == 12 and int(space.hash, 16) >= 0
    assert space.model_copy(update={"resolutions": (32,)}).hash != space.hash
    assert SearchSpace.model_validate_json(space.model_dump_json()) == space


def test_yaml_ranges_expand_to_choices():
    s3 = SPACES["imagenet"].stages[2]
    assert s3.widths == (48, 64, 80, 96) and s3.depths == (1, 2, 3, 4, 5)


@settings(max_examples=40, deadline=None)
@given(space_names, seeds)
def test_arch_json_and_id_round_trip(name, seed):
    arch = sample(name, seed)
    again = Arch.model_validate_json(arch.model_dump_json())
    assert again == arch and hash(again) == hash(arch) and again.id == arch.id
    assert Arch.parse(arch.id) == arch
    assert {arch: 1}[again] == 1


@settings(max_examples=40, deadline=None)
@given(space_names, seeds, seeds, st.floats(0.0, 1.0))
def test_operators_return_valid_archs(name, seed_a, seed_b, prob):
    space, rng = SPACES[name], np.random.default_rng(seed_a)
    a, b = sample(name, seed_a), sample(name, seed_b)
    for arch in (a, space.mutate(a, rng, prob), space.crossover(a, b, rng), space.smallest(), space.largest()):
        assert space.validate_arch(arch) is arch


@settings(max_examples=20, deadline=None)
@given(space_names, seeds)
def test_mutation_with_zero_probability_is_identity(name, seed):
    arch = sample(name, seed)
    assert SPACES[name].mutate(arch, np.random.default_rng(seed), 0.0) == arch


def test_sampling_is_deterministic_given_the_generator():
    space = SPACES["imagenet"]
    assert space.sample(np.random.default_rng(7)) == space.sample(np.random.default_rng(7))


def test_sampling_covers_every_choice():
    space, rng = SPACES["cifar"], np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(400)]
    assert {a.resolution for a in archs} == set(space.resolutions)
    assert {a.stages[2].depth for a in archs} == set(space.stages[2].depths)
    assert {layer.v_scale for a in archs for layer in a.stages[3].layers} == set(space.stages[3].v_scales)


def _replace_stage(arch: Arch, index: int, **update) -> Arch:
    stages = list(arch.stages)
    stages[index] = stages[index].model_copy(update=update)
    return arch.model_copy(update={"stages": tuple(stages)})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda a: a.model_copy(update={"resolution": 33}), "resolution 33"),
        (lambda a: a.model_copy(update={"stem_width": 20}), "first conv: width 20"),
        (lambda a: a.model_copy(update={"stem_kernels": (7,)}), "stem: kernel 7 of layer 1"),
        (lambda a: a.model_copy(update={"stem_kernels": (3, 3, 3)}), "stem: depth 3"),
        (lambda a: _replace_stage(a, 2, width=50), r"stage S3 \(transformer\): width 50"),
        (lambda a: a.model_copy(update={"stem_width": 24}), r"stage S1 \(mbconv\): width 16 is narrower than the previous stage's 24"),
        (lambda a: _replace_stage(a, 1, layers=(MBConvLayer(kernel=7, expansion=2),)),
         r"stage S2 \(mbconv\): kernel 7 of layer 1"),
        (lambda a: _replace_stage(a, 3, layers=(TransformerLayer(mlp_ratio=9, v_scale=1),)),
         r"stage S4 \(transformer\): mlp_ratio 9 of layer 1"),
        (lambda a: _replace_stage(a, 3, layers=(TransformerLayer(mlp_ratio=2, v_scale=1),) * 9),
         r"stage S4 \(transformer\): depth 9"),
        (lambda a: _replace_stage(a, 0, layers=(TransformerLayer(mlp_ratio=2, v_scale=1),)),
         r"stage S1 \(mbconv\): layers must be MBConvLayer"),
        (lambda a: a.model_copy(update={"stages": a.stages[:-1]}), "3 stages, the space 4"),
    ],
)
def test_invalid_archs_are_rejected_naming_stage_and_choice(edit, message):
    space = SPACES["cifar"]
    arch = _replace_stage(space.smallest(), 2, width=64)
    space.validate_arch(arch)
    bad = edit(arch)
    with pytest.raises(ValueError, match=message):
        space.validate_arch(bad)
    assert not space.contains(bad)


def test_arch_shape_errors_are_caught_by_pydantic():
    with pytest.raises(ValueError):
        StageArch(width=16, layers=())
    with pytest.raises(ValueError):
        Arch.model_validate({"resolution": 32, "stem_width": 16, "stem_kernels": [3], "stages": [], "extra": 1})


def test_invalid_spaces_are_rejected():
    raw = SPACES["cifar"].model_dump()
    raw["stages"][2]["widths"] = (40, 56)
    with pytest.raises(ValueError, match="multiples of head_dim"):
        SearchSpace.model_validate(raw)
    raw = SPACES["cifar"].model_dump()
    raw["stages"][0]["mlp_ratios"] = (2,)
    with pytest.raises(ValueError, match="takes no 'mlp_ratios'"):
        SearchSpace.model_validate(raw)
    raw = SPACES["cifar"].model_dump()
    raw["resolutions"] = (32, 24)
    with pytest.raises(ValueError, match="strictly increasing"):
        SearchSpace.model_validate(raw)


def test_space_size_matches_enumeration_on_a_tiny_space():
    tiny = SearchSpace.model_validate({
        "name": "tiny", "resolutions": [16, 24],
        "first_conv": {"widths": [8, 16]}, "stem": {"depths": [1, 2], "kernels": [3]},
        "stages": [
            {"kind": "mbconv", "widths": [8, 16], "depths": [1, 2], "stride": 2, "kernels": [3, 5], "expansions": [2]},
            {"kind": "transformer", "widths": [16, 32], "depths": [1], "stride": 2, "mlp_ratios": [2], "v_scales": [1, 2]},
        ],
        "head": {"width": 32},
    })
    conv_layers = [MBConvLayer(kernel=k, expansion=2) for k in (3, 5)]
    conv_stacks = [tuple(c) for d in (1, 2) for c in itertools.product(conv_layers, repeat=d)]
    tf_stacks = [(TransformerLayer(mlp_ratio=2, v_scale=v),) for v in (1, 2)]
    archs = {
        Arch(resolution=r, stem_width=w0, stem_kernels=stem,
             stages=(StageArch(width=w1, layers=c), StageArch(width=w2, layers=t)))
        for r, w0, stem, w1, c, w2, t in itertools.product(
            [16, 24], [8, 16], [(3,), (3, 3)], [8, 16], conv_stacks, [16, 32], tf_stacks)
    }
    assert space_size(tiny) == sum(tiny.contains(a) for a in archs) == 288
    assert allowed_widths(tiny.stages[0], 16) == (16,)
