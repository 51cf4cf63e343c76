"""One way to turn a PyTorch module into ONNX, shared by the latency backend and the exporter."""

from __future__ import annotations

import io
import os
import warnings

import torch
from torch import nn


def onnx_export(
    module: nn.Module,
    example: torch.Tensor,
    target: str | os.PathLike[str] | io.BytesIO,
    opset: int,
    output_name: str = "output",
    dynamic_batch: bool = False,
) -> None:
    """Export ``module`` (already in eval mode, float32, on CPU) traced on ``example``.

    The TorchScript exporter is the one that works without onnxscript (not a dependency); torch
    warns on every call that it is deprecated, which would flood a latency collection of hundreds
    of blocks, so those warnings are silenced here.
    """
    axes = {"input": {0: "batch"}, output_name: {0: "batch"}} if dynamic_batch else None
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        torch.onnx.export(
            module,
            (example,),
            target if isinstance(target, io.BytesIO) else str(target),
            input_names=["input"],
            output_names=[output_name],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
