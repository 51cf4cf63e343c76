"""The runtime-backend plugin interface and the registry keyed by backend name.

A backend turns a PyTorch module into something that runs one inference on the target runtime
(eager PyTorch, ONNX Runtime, TFLite, TensorRT, ...). Timing, statistics and tables are generic and
live elsewhere, so a new runtime only has to implement this interface and register itself.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, TypeVar

from elasticvit.errors import ElasticViTError

if TYPE_CHECKING:
    from torch import nn

    from elasticvit.latency.devices import DeviceSpec

# Third-party backends can register without touching this package by declaring an entry point in
# this group (``name = "package.module:BackendClass"``); it is loaded on first lookup of ``name``.
ENTRY_POINT_GROUP = "elasticvit.latency_backends"

Runner = Callable[[], None]
"""One inference on a prepared model; returns only once the result is ready (synchronised)."""

_B = TypeVar("_B", bound="type[Backend]")
_REGISTRY: dict[str, type[Backend]] = {}


class BackendError(ElasticViTError, RuntimeError):
    """A backend is unknown, unavailable, or cannot run a model on the requested device."""


class Backend(ABC):
    """Prepare a module for one runtime and run it; one instance serves one device spec."""

    name: str = ""

    call_overhead_once: bool = True
    """Whether a composed model pays the runtime's per-call cost (dispatch, input/output binding,
    synchronisation) once per inference rather than once per block. If so, the table subtracts the
    measured empty-call time from every block and the correction adds one call back."""

    def __init__(self, spec: DeviceSpec) -> None:
        self.spec = spec

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Process-wide settings for the duration of a measurement (threads, inference mode).

        Everything set here is restored on exit, so measuring does not leak into the caller.
        """
        yield

    @abstractmethod
    def prepare(self, module: nn.Module, input_shape: tuple[int, ...]) -> Runner:
        """Export/compile ``module`` for this runtime with a fixed input of ``input_shape``.

        The backend may change ``module`` (eval mode, device, dtype): pass a module you own.
        Call it inside ``session()``.
        """

    @abstractmethod
    def versions(self) -> dict[str, str]:
        """Library versions that determine the timings (recorded in every table)."""


def register_backend(name: str) -> Callable[[_B], _B]:
    """Class decorator: make a backend available to device specs as ``backend: <name>``."""

    def decorate(cls: _B) -> _B:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise BackendError(f"backend '{name}' is already registered by {_REGISTRY[name]!r}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def get_backend(device: DeviceSpec) -> Backend:
    """An instance of the backend ``device.backend``, checked for availability."""
    cls = _REGISTRY.get(device.backend) or _load_entry_point(device.backend)
    if cls is None:
        raise BackendError(
            f"device '{device.name}': unknown backend '{device.backend}' "
            f"(registered: {', '.join(available_backends())})"
        )
    return cls(device)


def available_backends() -> list[str]:
    return sorted(_REGISTRY)


def _load_entry_point(name: str) -> type[Backend] | None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            cls = ep.load()
            return register_backend(name)(cls)
    return None
