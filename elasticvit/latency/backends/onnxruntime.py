"""ONNX Runtime on its CPU execution provider: the module is exported to ONNX, then run by ORT."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from elasticvit.latency.backends.base import Backend, BackendError, Runner, register_backend
from elasticvit.utils.onnx import onnx_export

if TYPE_CHECKING:
    import onnxruntime

OPSET = 17
_INPUT_SEED = 0


@register_backend("onnxruntime")
class OnnxRuntimeBackend(Backend):
    """One ``InferenceSession`` per module, all graph optimisations on, fixed intra-op threads."""

    def prepare(self, module: nn.Module, input_shape: tuple[int, ...]) -> Runner:
        if self.spec.device != "cpu" or self.spec.dtype != "float32":
            raise BackendError(
                f"device '{self.spec.name}': the onnxruntime backend runs float32 on cpu only "
                f"(got device={self.spec.device}, dtype={self.spec.dtype})"
            )
        session = self._session(export_onnx(module, input_shape))
        x = np.random.default_rng(_INPUT_SEED).standard_normal(input_shape, dtype=np.float32)
        feed = {session.get_inputs()[0].name: x}
        outputs = [o.name for o in session.get_outputs()]

        def run() -> None:
            session.run(outputs, feed)

        return run

    def versions(self) -> dict[str, str]:
        import onnx
        import onnxruntime

        return {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}

    def _session(self, model_bytes: bytes) -> onnxruntime.InferenceSession:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = self.spec.threads
        # Sequential execution never uses the inter-op pool; one thread keeps it from competing.
        options.inter_op_num_threads = 1
        return onnxruntime.InferenceSession(
            model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
        )


def export_onnx(module: nn.Module, input_shape: tuple[int, ...]) -> bytes:
    """The module as an ONNX model (float32, fixed shapes, eval mode), in memory."""
    buffer = io.BytesIO()
    onnx_export(module.eval().float().cpu(), torch.zeros(input_shape), buffer, OPSET)
    return buffer.getvalue()
