"""Every block kind of the space exports to ONNX and runs in ONNX Runtime with the same output."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch

from elasticvit.latency import get_backend, load_device
from elasticvit.latency.backends.onnxruntime import export_onnx
from elasticvit.nn.static import build_block
from elasticvit.space import load_space
from elasticvit.space.specs import space_blocks


def _one_spec_per_kind():  # type: ignore[no-untyped-def]
    specs = {}
    for spec in space_blocks(load_space("cifar"), 10):
        specs.setdefault(spec.kind, spec)
    return sorted(specs.items())


@pytest.mark.parametrize(("kind", "spec"), _one_spec_per_kind(), ids=lambda v: v if isinstance(v, str) else "")
def test_block_exports_and_runs_in_onnxruntime(kind: str, spec) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    block = build_block(spec).eval()
    x = torch.randn(spec.input_shape(1))
    with torch.no_grad():
        expected = block(x).numpy()
    session = onnxruntime.InferenceSession(export_onnx(block, tuple(x.shape)), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)


def test_onnx_backend_times_a_block() -> None:
    spec = space_blocks(load_space("cifar"), 10)[0]
    backend = get_backend(load_device("onnx-cpu-1t"))
    with backend.session():
        runner = backend.prepare(build_block(spec), spec.input_shape(1))
        runner()
