"""Runtime backends, registered by name; importing this package registers the built-in ones.

``onnxruntime`` and ExecuTorch themselves are imported only when a device of theirs is used.
"""

from elasticvit.latency.backends import executorch as _executorch  # noqa: F401  (registers)
from elasticvit.latency.backends import onnxruntime as _onnxruntime  # noqa: F401  (registers)
from elasticvit.latency.backends import torch_eager as _torch_eager  # noqa: F401  (registers)
from elasticvit.latency.backends.base import (
    ENTRY_POINT_GROUP,
    Backend,
    BackendError,
    Runner,
    available_backends,
    get_backend,
    register_backend,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Backend",
    "BackendError",
    "Runner",
    "available_backends",
    "get_backend",
    "register_backend",
]
