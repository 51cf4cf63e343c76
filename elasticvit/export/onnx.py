"""ONNX export of a standalone subnet, accepted only if ONNX Runtime reproduces PyTorch's outputs."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from elasticvit.utils.atomic import atomic_path
from elasticvit.utils.onnx import onnx_export

PARITY_BATCH = 4
"""Inputs compared between PyTorch and ONNX Runtime; more than one, so the dynamic batch axis is exercised."""


class ParityError(RuntimeError):
    """ONNX Runtime's outputs differ from PyTorch's by more than the tolerance."""


class OnnxExport(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: Path
    opset: int
    input_shape: tuple[int, ...]
    max_abs_diff: float
    tolerance: float
    """The accepted difference for these outputs: ``atol + rtol * max |logit|``."""


def export_onnx(
    model: nn.Module,
    input_shape: tuple[int, ...],
    path: str | os.PathLike[str],
    opset: int = 17,
    atol: float = 1e-4,
    rtol: float = 1e-3,
    seed: int = 0,
) -> OnnxExport:
    """Export ``model`` (eval mode, float32, CPU) with a dynamic batch axis, then check parity.

    ``input_shape`` is one input's (C, H, W). The parity check runs both runtimes on a seeded
    random batch; if any output differs by more than ``atol + rtol * max |logit|`` the file is not
    written and ``ParityError`` reports the difference. The tolerance scales with the logits
    because float32 kernels of the two runtimes reorder sums differently on different CPUs. The model is not modified (a copy is exported on CPU).
    """
    module = _cpu_eval_copy(model)
    example = torch.zeros((1, *input_shape))
    with atomic_path(path) as tmp:
        onnx_export(module, example, tmp, opset, output_name="logits", dynamic_batch=True)
        diff, scale = parity(module, tmp, input_shape, seed)
        tolerance = atol + rtol * scale
        if not diff <= tolerance:  # also catches NaN
            raise ParityError(
                f"ONNX export of {Path(path).name}: max |onnxruntime - torch| = {diff:.3g} exceeds "
                f"{tolerance:.3g} (atol {atol:g} + rtol {rtol:g} x max |logit| {scale:.3g})"
            )
    return OnnxExport(
        path=Path(path), opset=opset, input_shape=tuple(input_shape), max_abs_diff=diff, tolerance=tolerance
    )


def parity(
    model: nn.Module, onnx_path: str | os.PathLike[str], input_shape: tuple[int, ...], seed: int = 0
) -> tuple[float, float]:
    """Max absolute difference between ``model`` (eval mode, float32, CPU) and the ONNX file on a
    seeded random batch, and the max absolute PyTorch output it is measured against."""
    import onnxruntime

    x = np.random.default_rng(seed).standard_normal((PARITY_BATCH, *input_shape), dtype=np.float32)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (ort_out,) = session.run(None, {session.get_inputs()[0].name: x})
    with torch.no_grad():
        torch_out = model(torch.from_numpy(x)).numpy()
    if ort_out.shape != torch_out.shape:
        raise ParityError(f"ONNX output shape {ort_out.shape} differs from PyTorch's {torch_out.shape}")
    return float(np.abs(ort_out - torch_out).max()), float(np.abs(torch_out).max())


def _cpu_eval_copy(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).float().cpu().eval()
