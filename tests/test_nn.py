"""Elastic leaf ops: the active slice behaves like its static counterpart, gradients stay shared."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from elasticvit.nn import (
    ElasticBatchNorm2d,
    ElasticConv2d,
    ElasticDepthwiseConv2d,
    ElasticLayerNorm,
    ElasticLinear,
    ElasticProjection,
    ElasticQKV,
    ElasticRelativePositionBias,
    ElasticValueConv,
)
from elasticvit.nn.attention import gather_bias, relative_position_index

settings.register_profile("nn", max_examples=15, deadline=None)
settings.load_profile("nn")


def same(op: torch.nn.Module, x: torch.Tensor) -> None:
    op.eval()
    with torch.no_grad():
        torch.testing.assert_close(op(x), op.to_static().eval()(x), rtol=0, atol=1e-6)


@given(st.integers(1, 12), st.integers(1, 12), st.sampled_from([1, 3]), st.sampled_from([1, 2]), st.booleans())
def test_conv_slice_matches_static(c_in, c_out, k, stride, bias):
    op = ElasticConv2d(12, 12, k, stride, bias)
    op.set_active(c_in, c_out)
    same(op, torch.randn(2, c_in, 7, 7))


@given(st.integers(1, 16), st.sampled_from([1, 3, 5, 7]), st.sampled_from([1, 2]))
def test_depthwise_slice_matches_static(c, k, stride):
    op = ElasticDepthwiseConv2d(16, 7, stride)
    op.set_active(c, k)
    same(op, torch.randn(2, c, 9, 9))


def test_smaller_kernel_is_the_centre_of_the_largest():
    op = ElasticDepthwiseConv2d(4, 5)
    op.set_active(4, 3)
    assert torch.equal(op.to_static().weight, op.weight[:, :, 1:4, 1:4])
    with pytest.raises(ValueError, match="centred"):
        op.set_active(4, 4)


@given(st.integers(1, 10), st.integers(1, 10), st.booleans())
def test_linear_slice_matches_static(n_in, n_out, bias):
    op = ElasticLinear(10, 10, bias)
    op.set_active(n_in, n_out)
    same(op, torch.randn(3, 5, n_in))


@given(st.integers(1, 8))
def test_norms_match_static(c):
    bn = ElasticBatchNorm2d(8)
    for t in (bn.weight, bn.bias, bn.running_mean):
        t.data.normal_()
    bn.running_var.data.uniform_(0.5, 2.0)
    bn.set_active(c)
    same(bn, torch.randn(4, c, 3, 3))
    ln = ElasticLayerNorm(8)
    ln.weight.data.normal_()
    ln.set_active(c)
    same(ln, torch.randn(4, 5, c))


def test_batchnorm_updates_only_the_active_running_stats_and_supports_recalibration():
    bn = ElasticBatchNorm2d(8).train()
    bn.set_active(3)
    bn(torch.randn(16, 3, 4, 4) + 5)
    assert (bn.running_mean[:3] > 0.3).all() and torch.equal(bn.running_mean[3:], torch.zeros(5))
    # BN recalibration: reset, momentum None = cumulative average over the batches seen
    bn.reset_running_stats()
    bn.momentum = None
    batches = [torch.randn(8, 3, 2, 2) + i for i in range(3)]
    for b in batches:
        bn(b)
    expected = torch.stack([b.mean((0, 2, 3)) for b in batches]).mean(0)
    torch.testing.assert_close(bn.running_mean[:3], expected)


def test_gradients_land_in_the_shared_weight_slice():
    op = ElasticLinear(6, 6)
    op.set_active(2, 3)
    op(torch.randn(4, 2)).sum().backward()
    assert op.weight.grad[:3, :2].abs().sum() > 0
    assert op.weight.grad[3:].abs().sum() == 0 and op.weight.grad[:, 2:].abs().sum() == 0


@given(st.integers(1, 4), st.integers(1, 3), st.integers(2, 9))
def test_attention_parts_match_static(heads, v_scale, n):
    head_dim, c = 4, 4 * heads
    qkv, proj, v_conv = ElasticQKV(16, 4, head_dim, 12), ElasticProjection(4, 12, 16), ElasticValueConv(4, 12, 3)
    qkv.qk_bias.data.normal_()
    qkv.set_active(c, heads, v_scale * head_dim)
    proj.set_active(heads, v_scale * head_dim, c)
    v_conv.set_active(heads, v_scale * head_dim)
    same(qkv, torch.randn(2, n, c))
    same(proj, torch.randn(2, n, heads * v_scale * head_dim))
    same(v_conv, torch.randn(2, heads * v_scale * head_dim, 3, 3))


def test_weight_rows_keep_their_role_across_head_counts_and_v_scales():
    head_dim = 4
    qkv, proj = ElasticQKV(16, 4, head_dim, 12), ElasticProjection(4, 12, 16)

    def v_rows(heads, v_dim):
        qkv.set_active(16, heads, v_dim)
        w = qkv.active_weight()[2 * heads * head_dim:]
        return w.reshape(heads, v_dim, 16)

    def proj_columns(heads, v_dim):
        proj.set_active(heads, v_dim, 16)
        return proj.active_parameters()[0].reshape(16, heads, v_dim)

    small, large = v_rows(2, 4), v_rows(3, 8)
    assert torch.equal(small, large[:2, :4])  # V channel d of head j: the same row
    assert torch.equal(proj_columns(2, 4), proj_columns(3, 8)[:, :2, :4])
    qkv.set_active(16, 2, 4)
    q_small = qkv.active_weight()[: 2 * head_dim]
    qkv.set_active(16, 4, 12)
    assert torch.equal(q_small, qkv.active_weight()[: 2 * head_dim])


@given(st.integers(1, 4), st.sampled_from([2, 3, 5]))
def test_relative_position_bias_crop_serves_smaller_grids(heads, grid):
    bias = ElasticRelativePositionBias(4, (2, 3, 5))
    bias.set_active(heads, grid)
    out = bias()
    assert out.shape == (heads, grid * grid, grid * grid)
    torch.testing.assert_close(out, bias.to_static()(), rtol=0, atol=0)
    # every pair of tokens reads the entry of its offset in the one full-size table
    full = gather_bias(bias.table, relative_position_index(5))[:heads]  # tokens of a 5x5 grid
    corner = torch.tensor([r * 5 + c for r in range(grid) for c in range(grid)])
    torch.testing.assert_close(out, full[:, corner][:, :, corner], rtol=0, atol=0)


def test_relative_position_bias_refuses_undeclared_grids():
    with pytest.raises(ValueError, match="grid 4"):
        ElasticRelativePositionBias(2, (2, 3)).set_active(2, 4)
