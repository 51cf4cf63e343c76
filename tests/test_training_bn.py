"""BN recalibration on plain models, on the supernet with an active arch, and its restoring helpers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from elasticvit.data import resize_batch
from elasticvit.model import Supernet
from elasticvit.space import load_space
from elasticvit.training.bn_calibration import batch_statistics, preserved_bn_state, recalibrate_bn
from tests.test_training_loop import TINY_SPACE


def batches(n: int, shape=(8, 3, 32, 32), seed=0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g) * 2 + 1 for _ in range(n)]


def test_recalibrated_stats_are_the_average_over_the_batches():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Dropout(0.5))
    data = batches(3)
    assert recalibrate_bn(model, data) == 3
    bn = model[1]
    with torch.no_grad():
        feats = [model[0](x) for x in data]
    expected_mean = torch.stack([f.mean((0, 2, 3)) for f in feats]).mean(0)
    expected_var = torch.stack([f.var((0, 2, 3), unbiased=True) for f in feats]).mean(0)
    torch.testing.assert_close(bn.running_mean, expected_mean)
    torch.testing.assert_close(bn.running_var, expected_var)
    assert bn.momentum == 0.1 and not model.training


@pytest.fixture(scope="module")
def supernet(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("space") / "tiny.yaml"
    path.write_text(TINY_SPACE)
    space = load_space(path)
    torch.manual_seed(0)
    return space, Supernet(space, 10)


def _bn_buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if "running" in k}


def test_supernet_recalibration_touches_the_active_subnet_and_is_undone(supernet):
    space, model = supernet
    before = _bn_buffers(model)
    arch = space.smallest()
    model.set_active(arch)
    with preserved_bn_state(model):
        recalibrate_bn(model, [resize_batch(x, arch.resolution) for x in batches(2)])
        during = _bn_buffers(model)
        changed = {k for k, v in during.items() if not torch.equal(v, before[k])}
        assert changed
        # the smallest subnet's BN layers slice their buffers: the inactive channels keep theirs
        assert any(int((during[k] != before[k]).sum()) < during[k].numel() for k in changed)
        with torch.no_grad():
            out_a = model(resize_batch(batches(1, seed=5)[0], arch.resolution))
    after = _bn_buffers(model)
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert torch.isfinite(out_a).all()


def test_scoring_mode_uses_batch_stats_without_updating_them(supernet):
    space, model = supernet
    model.train()
    before = _bn_buffers(model)
    x = batches(1)[0]
    with torch.no_grad(), batch_statistics(model):
        assert not model.training
        model.set_active(space.largest())
        model(resize_batch(x, space.largest().resolution))
    after = _bn_buffers(model)
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert model.training
