"""ONNX export with a parity check, and model cards, on small stand-in modules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from torch import nn

from elasticvit.export.model_card import DeviceLatency, ModelCard, write_model_card
from elasticvit.export.onnx import ParityError, export_onnx


def _small_net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.GELU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10),
    )
    with torch.no_grad():  # non-trivial BN statistics, as after recalibration
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
    return net


def test_export_matches_pytorch_and_has_a_dynamic_batch(tmp_path: Path) -> None:
    net = _small_net().train()
    result = export_onnx(net, (3, 16, 16), tmp_path / "m.onnx")
    assert net.training, "the caller's module must not be switched to eval"
    assert result.max_abs_diff <= result.tolerance and result.path.exists()
    session = onnxruntime.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).standard_normal((7, 3, 16, 16), dtype=np.float32)
    (out,) = session.run(None, {"input": x})
    expected = net.eval()(torch.from_numpy(x)).detach().numpy()
    assert out.shape == (7, 10) and np.abs(out - expected).max() <= result.tolerance


class _TrainOnly(nn.Module):
    """Differs between export and eager: the exported graph sees a constant it was traced with."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3 * 8 * 8, 4)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.linear(x.flatten(1)) + float(self.calls)


def test_parity_failure_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ParityError, match="exceeds"):
        export_onnx(_TrainOnly(), (3, 8, 8), tmp_path / "bad.onnx")
    assert list(tmp_path.iterdir()) == []


def test_model_card_carries_the_facts(tmp_path: Path) -> None:
    card = ModelCard(
        name="torch-cpu-1t-2ms",
        device="torch-cpu-1t",
        budget_ms=2.0,
        arch_id="r32-abc",
        arch={"resolution": 32, "depths": [1, 2]},
        resolution=32,
        macs=12_340_000,
        params=456_000,
        latency={"torch-cpu-1t": DeviceLatency(predicted_ms=1.8, measured_ms=1.9), "onnx-cpu-1t": DeviceLatency(predicted_ms=1.1)},
        val_accuracy=0.71,
        test_accuracy=0.7,
        onnx_max_abs_diff=3e-6,
        supernet_checkpoint="sha:0123",
        supernet_run_id="run42",
        data_version="dv1",
        files={"onnx": "model.onnx"},
    )
    path = write_model_card(tmp_path / "MODEL_CARD.md", card)
    text = path.read_text()
    for fact in ("r32-abc", "12.34 M", "0.456 M", "71.00%", "70.00%", "| torch-cpu-1t (target) | 1.800 | 1.900 |",
                 "| onnx-cpu-1t | 1.100 | - |", "run42", "dv1", "`model.onnx`", '"depths"'):
        assert fact in text, fact
    assert ModelCard.model_validate_json((tmp_path / "MODEL_CARD.json").read_text()) == card
