"""Export helpers on a real subnet of the cifar space (random weights, BN statistics recalibrated)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from elasticvit.export import CheckpointError, OnnxExport, export_checkpoint, export_onnx, standalone_subnet
from elasticvit.data import DatasetError
from elasticvit.export.evaluate import accuracy, evaluate_files, load_npz
from elasticvit.model import SubnetModel, Supernet, load_subnet
from elasticvit.space import load_space

SPACE = load_space("cifar")


@pytest.fixture(scope="module")
def subnet() -> SubnetModel:
    torch.manual_seed(0)
    model = SubnetModel(SPACE, SPACE.smallest(), 10)  # the smallest: tracing it for ONNX is quickest
    with torch.no_grad():  # recalibrated-looking statistics: parity must hold with them baked in
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="module")
def onnx_export(subnet: SubnetModel, tmp_path_factory: pytest.TempPathFactory) -> OnnxExport:
    r = subnet.arch.resolution
    return export_onnx(subnet, (3, r, r), tmp_path_factory.mktemp("onnx") / "m.onnx")


def test_onnx_parity_on_a_hybrid_subnet(onnx_export: OnnxExport) -> None:
    # convolutions, attention and the head all go through the exporter
    assert 0.0 <= onnx_export.max_abs_diff <= onnx_export.tolerance and onnx_export.path.exists()


def test_checkpoint_round_trips_weights_only_with_its_arch(subnet: SubnetModel, tmp_path: Path) -> None:
    path = export_checkpoint(tmp_path / "m.pt", subnet, {"device": "d", "budget_ms": 1.5})
    payload = torch.load(path, weights_only=True)
    assert SPACE.validate_arch(load_subnet(path).arch) == subnet.arch
    assert payload["extra"] == {"device": "d", "budget_ms": 1.5}


def test_checkpoint_that_does_not_reproduce_the_model_is_refused(subnet: SubnetModel, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import elasticvit.export.checkpoint as checkpoint

    def corrupted(path):  # type: ignore[no-untyped-def]
        model = load_subnet(path)
        with torch.no_grad():
            next(model.parameters()).add_(1.0)
        return model

    monkeypatch.setattr(checkpoint, "load_subnet", corrupted)
    with pytest.raises(CheckpointError, match="differ"):
        export_checkpoint(tmp_path / "m.pt", subnet, {})


def test_standalone_subnet_bakes_recalibrated_statistics() -> None:
    torch.manual_seed(0)
    supernet = Supernet(SPACE, 10)
    arch = SPACE.smallest()
    calib = [torch.randn(16, 3, 32, 32) * 2 + 1]
    model = standalone_subnet(supernet, arch, calib)
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert not model.training and bn.num_batches_tracked.item() == 1
    assert not torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean))


def test_scoring_files_and_npz_validation(subnet: SubnetModel, onnx_export: OnnxExport, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 30)
    np.savez(tmp_path / "ok.npz", images=images, labels=labels)
    x, y = load_npz(tmp_path / "ok.npz")
    export_checkpoint(tmp_path / "m.pt", subnet, {})
    scores = evaluate_files([tmp_path / "m.pt", onnx_export.path], x, y)
    assert scores[str(tmp_path / "m.pt")] == pytest.approx(scores[str(onnx_export.path)], abs=1 / 30 + 1e-9)
    always_three = accuracy(lambda batch: torch.nn.functional.one_hot(torch.full((len(batch),), 3), 10).float(), x, y)
    assert always_three == pytest.approx(float(np.mean(labels == 3)))

    np.savez(tmp_path / "bad.npz", images=images.astype(np.float32), labels=labels)
    with pytest.raises(DatasetError, match="uint8"):
        load_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "nolabels.npz", images=images)
    with pytest.raises(DatasetError, match="labels"):
        load_npz(tmp_path / "nolabels.npz")
    np.savez(tmp_path / "empty.npz", images=images[:0], labels=labels[:0])
    with pytest.raises(DatasetError, match="empty.npz: no images"):
        load_npz(tmp_path / "empty.npz")
    np.savez(tmp_path / "negative.npz", images=images, labels=labels - 1)
    with pytest.raises(DatasetError, match="non-negative integers"):
        load_npz(tmp_path / "negative.npz")
    # 20-class labels for a 10-class model: refused, not scored as a low accuracy
    np.savez(tmp_path / "twenty.npz", images=images, labels=rng.integers(10, 20, 30))
    with pytest.raises(DatasetError, match=r"m\.pt: labels go up to 1\d but the model predicts 10 classes"):
        evaluate_files([tmp_path / "m.pt"], *load_npz(tmp_path / "twenty.npz"))
