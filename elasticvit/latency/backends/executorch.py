"""ExecuTorch with the XNNPACK delegate: the runtime PyTorch models ship in on Android and iOS.

The module is captured by ``torch.export`` at the fixed input shape, lowered with the XNNPACK
partitioner (operators XNNPACK lacks stay on ExecuTorch's portable kernels) and run by the
ExecuTorch runtime's Python bindings, here on the host CPU. ExecuTorch (``pip install
'elasticvit[mobile]'``) is imported only when an ExecuTorch device is used.
"""

from __future__ import annotations

import contextlib
import importlib
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

import torch
from torch import nn

from elasticvit.latency.backends.base import Backend, BackendError, Runner, register_backend

if TYPE_CHECKING:
    from elasticvit.latency.devices import DeviceSpec

_INPUT_SEED = 0

PARITY_ATOL = 1e-5
PARITY_RTOL = 1e-3
"""A lowered program is accepted if no output differs from PyTorch's by more than
``PARITY_ATOL + PARITY_RTOL * max |PyTorch output|``. XNNPACK's float32 kernels sum in another order
than PyTorch's: on the ``cifar`` space blocks differ by up to 6e-7 (outputs up to 4), the smallest
subnet by 6e-10, while a wrong lowering (layout, weights) differs by the size of the outputs. The
absolute part is a tenth of the ONNX export's: a randomly initialised subnet's logits are about 1e-3."""


@register_backend("executorch-xnnpack")
class ExecuTorchXnnpackBackend(Backend):
    """One lowered program per module, run through ``Method.execute`` on the device's thread count.

    Each ``execute`` binds the input and copies the outputs out: a per-call cost a composed model
    pays once, hence ``call_overhead_once``.
    """

    def __init__(self, spec: DeviceSpec) -> None:
        super().__init__(spec)
        _import("executorch.version")  # fail on lookup (``device add``), not after hours of other stages

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        # XNNPACK runs on ExecuTorch's process-wide pthreadpool, sized to the CPU count by default
        # and unaffected by torch.set_num_threads; with one thread it runs every operator on the
        # calling thread. Resetting is unsafe only while a method executes on another thread.
        threadpool = _import("executorch.extension.pybindings.portable_lib")
        previous = threadpool._threadpool_get_thread_count()
        threadpool._unsafe_reset_threadpool(self.spec.threads)
        try:
            yield
        finally:
            threadpool._unsafe_reset_threadpool(previous)

    def prepare(self, module: nn.Module, input_shape: tuple[int, ...]) -> Runner:
        if self.spec.device != "cpu" or self.spec.dtype != "float32":
            raise BackendError(
                f"device '{self.spec.name}': the executorch-xnnpack backend runs float32 on cpu only "
                f"(got device={self.spec.device}, dtype={self.spec.dtype})"
            )
        module = module.eval().float().cpu()
        lowered = lower_to_xnnpack(module, input_shape)
        x = torch.randn(input_shape, generator=torch.Generator().manual_seed(_INPUT_SEED))
        # One forward each way next to seconds of lowering: every program timed is checked.
        check_parity(module, lowered, x)

        def run() -> None:
            lowered(x)

        return run

    def versions(self) -> dict[str, str]:
        return {"torch": torch.__version__, "executorch": _import("executorch.version").__version__}


class LoweredProgram:
    """A program loaded in the ExecuTorch runtime; calling it runs ``forward`` on one input."""

    def __init__(self, pte: bytes) -> None:
        runtime = _import("executorch.runtime").Runtime.get()
        self.pte = pte
        self._program = runtime.load_program(pte)  # owns the buffer the method runs from
        self._forward = self._program.load_method("forward")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward.execute((x,))[0]


def lower_to_xnnpack(module: nn.Module, input_shape: tuple[int, ...]) -> LoweredProgram:
    """``module`` (eval mode, float32, CPU) exported at ``input_shape``, lowered to XNNPACK, loaded."""
    exir = _import("executorch.exir")
    partitioner = _import("executorch.backends.xnnpack.partition.xnnpack_partitioner").XnnpackPartitioner
    with warnings.catch_warnings():
        # Lowering warns about its own deprecated calls several times per block: a collection of
        # hundreds of blocks would drown in them.
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        exported = torch.export.export(module, (torch.zeros(input_shape),))
        program = exir.to_edge_transform_and_lower(exported, partitioner=[partitioner()]).to_executorch()
    return LoweredProgram(program.buffer)


def check_parity(
    module: nn.Module,
    lowered: LoweredProgram,
    x: torch.Tensor,
    atol: float = PARITY_ATOL,
    rtol: float = PARITY_RTOL,
) -> float:
    """Max |ExecuTorch - PyTorch| on input ``x``; ``BackendError`` if above the tolerance."""
    with torch.no_grad():
        expected = module(x)
    got = lowered(x)
    if got.shape != expected.shape:
        raise BackendError(
            f"ExecuTorch output shape {tuple(got.shape)} differs from PyTorch's {tuple(expected.shape)}"
        )
    diff = float((got - expected).abs().max())
    scale = float(expected.abs().max())
    tolerance = atol + rtol * scale
    if not diff <= tolerance:  # also catches NaN
        raise BackendError(
            f"ExecuTorch/XNNPACK lowering of {type(module).__name__}: max |executorch - torch| = {diff:.3g} "
            f"exceeds {tolerance:.3g} (atol {atol:g} + rtol {rtol:g} x max |output| {scale:.3g})"
        )
    return diff


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise BackendError(
            f"the executorch-xnnpack backend needs ExecuTorch, which is not installed here ({exc}): "
            "pip install -c constraints.txt -e '.[mobile]'"
        ) from exc
