"""The correction's kind-group models on made-up data: a "fusing runtime" whose whole-model latency
is not a fixed multiple of its block sum, because it treats transformer and convolution blocks
differently."""

from __future__ import annotations

import numpy as np
import pytest

from elasticvit.latency.correction import (
    KINDS,
    MODEL_MARGIN,
    CalibrationPoint,
    Correction,
    KindShare,
    features,
    fit_correction,
)
from elasticvit.latency.measure import Measurement
from elasticvit.space.specs import BlockSpec

CONV_SCALE, TRANSFORMER_SCALE, OFFSET = 0.7, 1.3, 0.05
"""The made-up runtime fuses convolutions across blocks (faster than their sum) and runs attention
slower in a model than alone."""


def fusing_runtime(conv_ms: float, transformer_ms: float) -> float:
    return CONV_SCALE * conv_ms + TRANSFORMER_SCALE * transformer_ms + OFFSET


def test_the_kind_model_recovers_a_fusing_runtime() -> None:
    c = fit_correction(_points(30, seed=0), per_block_overhead_ms=0.0, call_overhead_ms=0.01)
    assert c.kind_scale == {"transformer": pytest.approx(TRANSFORMER_SCALE, rel=0.02)}
    assert c.scale == pytest.approx(CONV_SCALE, rel=0.02) and c.offset_ms == pytest.approx(OFFSET, abs=0.01)
    assert c.model == "scale per kind group + offset"


def test_the_kind_model_recovers_a_saving_per_transformer_block() -> None:
    # Each transformer block also hands its tokens to the next without the layout conversions it
    # pays when timed alone: -0.02 ms per transformer block, whose count varies from arch to arch.
    rng = np.random.default_rng(5)
    points = []
    for conv, tr in _shapes(30, 0):
        n = int(rng.integers(1, 6))
        points.append(_point(conv, tr, fusing_runtime(conv, tr) - 0.02 * n, conv_blocks=int(rng.integers(4, 9)),
                             transformer_blocks=n))
    c = fit_correction(points, per_block_overhead_ms=0.0, call_overhead_ms=0.01)
    assert c.model == "scale per kind group + per block + offset"
    assert c.kind_per_block_ms == {"transformer": pytest.approx(-0.02, abs=1e-3)}
    assert c.kind_scale == {"transformer": pytest.approx(TRANSFORMER_SCALE, rel=0.02)}


def test_the_kind_model_beats_scale_and_offset_on_held_out_archs() -> None:
    calibration, held_out = _points(30, seed=0), _points(50, seed=1)
    kinds = fit_correction(calibration, per_block_overhead_ms=0.0, call_overhead_ms=0.01)
    # Points without per-kind sums (as in tables collected before) leave only the whole-sum models.
    whole = fit_correction([p.model_copy(update={"by_kind": {}}) for p in calibration], 0.0, 0.01)
    assert not whole.kind_scale
    assert _mean_rel_error(kinds, held_out) < 0.01 < 0.05 < _mean_rel_error(whole, held_out)


def test_with_few_calibration_archs_the_simpler_model_is_chosen() -> None:
    # 10 archs: too few for a kind-group model's 3 terms (POINTS_PER_KIND_TERM each), although
    # its leave-one-out error would be the lowest on this noiseless runtime.
    c = fit_correction(_points(10, seed=0), per_block_overhead_ms=0.0, call_overhead_ms=0.01)
    assert not c.kind_scale and not c.kind_per_block_ms


def test_scale_and_offset_win_where_kinds_explain_nothing() -> None:
    # Both kinds scaled alike, with measurement noise: the extra scale only fits the noise.
    rng = np.random.default_rng(3)
    points = [_point(conv, tr, (0.9 * (conv + tr) + 0.02) * rng.normal(1.0, 0.02)) for conv, tr in _shapes(30, 0)]
    c = fit_correction(points, per_block_overhead_ms=0.0, call_overhead_ms=0.01)
    assert not c.kind_scale and c.scale == pytest.approx(0.9, rel=0.05)


def test_disturbed_calibration_archs_count_for_less() -> None:
    # Half the archs measured while another job ran, the bigger ones more: slower by up to 40 %, and
    # with a wide spread (too many, too evenly spread to be left out as outliers).
    rng = np.random.default_rng(4)
    points = []
    for i, (conv, tr) in enumerate(_shapes(30, 0)):
        disturbed = i % 2 == 0
        slow = 1.0 + rng.uniform(0.0, 0.2) * (conv + tr) if disturbed else 1.0
        points.append(_point(conv + tr, 0.0, slow * (0.9 * (conv + tr) + 0.02), cv=0.25 if disturbed else 0.02))
    c = fit_correction(points, per_block_overhead_ms=0.0, call_overhead_ms=0.01)
    assert c.scale == pytest.approx(0.9, rel=0.03)


def test_per_block_terms_per_kind_group_are_applied_per_block() -> None:
    c = Correction(scale=0.8, per_block_ms=0.01, offset_ms=0.1, points=0,
                   kind_scale={"transformer": 1.5}, kind_per_block_ms={"transformer": -0.02})
    by_kind = {"mbconv": KindShare(blocks=3, block_sum_ms=0.6), "transformer": KindShare(blocks=2, block_sum_ms=1.0)}
    f = features(by_kind, per_block_overhead_ms=0.05)
    expected = 0.8 * (0.6 - 3 * 0.05) + 3 * 0.01 + 1.5 * (1.0 - 2 * 0.05) - 2 * 0.02 + 0.1
    assert float(c.apply(f)) == pytest.approx(expected)
    assert c.block_share("mbconv", 0.2) == pytest.approx(0.8 * 0.2 + 0.01)
    assert c.block_share("transformer", 0.5) == pytest.approx(1.5 * 0.5 - 0.02)


def test_activation_terms_are_applied_per_block() -> None:
    c = Correction(scale=0.8, offset_ms=0.1, points=0, activation_ms=0.3, kind_activation_ms={"transformer": 2.0})
    by_kind = {"mbconv": KindShare(blocks=3, block_sum_ms=0.6, activations_m=0.1),
               "transformer": KindShare(blocks=2, block_sum_ms=1.0, activations_m=0.05)}
    expected = 0.8 * (0.6 + 1.0) + 0.3 * 0.1 + 2.0 * 0.05 + 0.1
    assert float(c.apply(features(by_kind, per_block_overhead_ms=0.0))) == pytest.approx(expected)
    assert c.block_share("transformer", 0.5, activations_m=0.01) == pytest.approx(0.8 * 0.5 + 2.0 * 0.01)
    assert c.model == "scale + activation per kind group + offset"


def test_a_richer_model_must_beat_the_simpler_by_the_margin() -> None:
    # Transformer blocks 8 % slower in a model than the rest, under 3 % measurement noise: the
    # kind-group model fits the calibration archs a little better, but not by MODEL_MARGIN.
    rng = np.random.default_rng(0)
    points = [_point(conv, tr, (0.9 * conv + 0.97 * tr + 0.02) * rng.normal(1.0, 0.03)) for conv, tr in _shapes(30, 0)]
    c = fit_correction(points, per_block_overhead_ms=0.0, call_overhead_ms=0.01)
    split = fit_correction(points, per_block_overhead_ms=0.0, call_overhead_ms=0.01, margin=0.0)
    assert split.kind_scale and split.loo_rel_error < c.loo_rel_error <= (1 + MODEL_MARGIN) * split.loo_rel_error
    assert c.model == "scale + offset"


def test_the_resolution_model_recovers_a_scale_that_changes_with_resolution() -> None:
    # A runtime whose savings grow with the tensors: 6 % more per block-sum millisecond at resolution
    # 24 than at 32, linearly in between, which no resolution-blind model can follow.
    def runtime(conv: float, tr: float, res: int) -> float:
        return (1.0 - 0.0075 * (res - 28)) * (conv + tr) + OFFSET

    def points(n: int, seed: int) -> list[CalibrationPoint]:
        res = np.random.default_rng(seed + 100).choice([24, 28, 32], size=n)
        return [_point(conv, tr, runtime(conv, tr, int(r)), resolution=int(r))
                for (conv, tr), r in zip(_shapes(n, seed), res, strict=True)]

    calibration, held_out = points(30, seed=0), points(50, seed=1)
    c = fit_correction(calibration, per_block_overhead_ms=0.0, call_overhead_ms=0.01)
    assert c.model == "scale + resolution + offset" and c.reference_resolution == 28
    assert c.resolution_scale == pytest.approx(-0.0075, rel=0.02) and c.scale == pytest.approx(1.0, rel=0.01)
    blind = fit_correction([p.model_copy(update={"resolution": None}) for p in calibration], 0.0, 0.01)
    assert blind.resolution_scale == 0.0 and "resolution" not in blind.model
    assert _mean_rel_error(c, held_out) < 0.002 < 0.015 < _mean_rel_error(blind, held_out)
    # A block's share follows the same scale, so the shares of a prediction still add up to it.
    assert c.block_share("mbconv", 0.5, resolution=24) == pytest.approx(c.scale * 1.03 * 0.5, rel=1e-3)
    with pytest.raises(ValueError, match="resolution"):
        c.apply(features(calibration[0].by_kind, 0.0))


def test_one_resolution_among_the_calibration_archs_leaves_no_resolution_term() -> None:
    points = [p.model_copy(update={"resolution": 32}) for p in _points(30, seed=0)]
    c = fit_correction(points, per_block_overhead_ms=0.0, call_overhead_ms=0.01)
    assert c.resolution_scale == 0.0 and c.reference_resolution == 0


def test_features_are_per_kind_compute_then_counts_then_activations_then_resolution() -> None:
    f = features({"head": KindShare(blocks=1, block_sum_ms=0.3, activations_m=0.25)}, per_block_overhead_ms=0.1,
                 resolution=28)
    head = KINDS.index("head")
    assert f[head] == pytest.approx(0.2) and f[len(KINDS) + head] == 1 and f[2 * len(KINDS) + head] == 0.25
    assert f[3 * len(KINDS)] == 28 and f.sum() == pytest.approx(29.45)


def test_a_blocks_activations_are_its_input_and_output_elements() -> None:
    spec = BlockSpec(kind="mbconv", hw=32, c_in=16, c_out=32, stride=2, kernel=3, expansion=4)
    assert spec.activations_m == pytest.approx((32 * 32 * 16 + 16 * 16 * 32) / 1e6)


def _shapes(n: int, seed: int) -> list[tuple[float, float]]:
    """Conv and transformer block sums (ms) of ``n`` made-up archs, drawn independently."""
    rng = np.random.default_rng(seed)
    return [(float(rng.uniform(0.2, 1.0)), float(rng.uniform(0.1, 1.2))) for _ in range(n)]


def _points(n: int, seed: int) -> list[CalibrationPoint]:
    return [_point(conv, tr, fusing_runtime(conv, tr)) for conv, tr in _shapes(n, seed)]


def _point(conv_ms: float, transformer_ms: float, measured_ms: float, cv: float = 0.02,
           conv_blocks: int = 6, transformer_blocks: int = 3, resolution: int | None = None) -> CalibrationPoint:
    by_kind = {"mbconv": KindShare(blocks=conv_blocks, block_sum_ms=conv_ms)}
    if transformer_ms:
        by_kind["transformer"] = KindShare(blocks=transformer_blocks, block_sum_ms=transformer_ms)
    m = Measurement(count=30, trimmed=0, attempts=1, median_ms=measured_ms, mean_ms=measured_ms,
                    std_ms=cv * measured_ms, min_ms=measured_ms, cv=cv)
    total = sum(s.block_sum_ms for s in by_kind.values())
    blocks = sum(s.blocks for s in by_kind.values())
    return CalibrationPoint(arch_id=f"a{conv_ms:.6f}-{transformer_ms:.6f}", blocks=blocks, block_sum_ms=total,
                            by_kind=by_kind, measured=m, resolution=resolution)


def _mean_rel_error(c: Correction, points: list[CalibrationPoint]) -> float:
    f = np.array([features(p.by_kind, 0.0, p.resolution or 0) for p in points])
    y = np.array([p.measured.median_ms for p in points])
    return float(np.mean(np.abs(c.apply(f) - y) / y))
