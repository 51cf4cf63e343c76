"""PyTorch eager mode on CPU or CUDA: the module runs as written, one Python dispatch per op."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from elasticvit.latency.backends.base import Backend, BackendError, Runner, register_backend

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_INPUT_SEED = 0


@register_backend("torch-eager")
class TorchEagerBackend(Backend):
    """``module(x)`` under ``torch.inference_mode`` with the device's thread count."""

    @property
    def call_overhead_once(self) -> bool:  # type: ignore[override]
        # On CPU each block stays a module call inside the composed model, so its dispatch cost
        # belongs to it; on CUDA the final synchronisation is paid once per model, not per block.
        return self._device.type == "cuda"

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        self._require_device()
        previous = torch.get_num_threads()
        torch.set_num_threads(self.spec.threads)
        try:
            with torch.inference_mode():
                yield
        finally:
            torch.set_num_threads(previous)

    def prepare(self, module: nn.Module, input_shape: tuple[int, ...]) -> Runner:
        dtype = _DTYPES[self.spec.dtype]
        model = module.eval().to(device=self._device, dtype=dtype)
        generator = torch.Generator().manual_seed(_INPUT_SEED)
        x = torch.randn(input_shape, generator=generator).to(device=self._device, dtype=dtype)
        if self._device.type == "cuda":
            # CUDA launches are asynchronous: without a synchronisation the timer would only see
            # the launch, not the kernels.
            def run_cuda() -> None:
                model(x)
                torch.cuda.synchronize(self._device)

            return run_cuda

        def run() -> None:
            model(x)

        return run

    def versions(self) -> dict[str, str]:
        versions = {"torch": torch.__version__}
        self._require_device()
        if self._device.type == "cuda":
            versions["cuda"] = str(torch.version.cuda)
            versions["cudnn"] = str(torch.backends.cudnn.version())
            versions["gpu"] = torch.cuda.get_device_name(self._device)
        return versions

    def _require_device(self) -> None:
        if self._device.type == "cuda" and not torch.cuda.is_available():
            raise BackendError(f"device '{self.spec.name}' needs CUDA, which is not available here: measure it on "
                               f"a host with its GPU (its worker), or give a CPU device")

    @property
    def _device(self) -> torch.device:
        return torch.device(self.spec.device)
