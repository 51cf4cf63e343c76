"""Loading a torch file (weights only): a missing or damaged one is named, not a traceback."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from elasticvit.errors import DamagedFileError


def read_torch(
    path: str | os.PathLike[str], what: str, *, map_location: str | torch.device = "cpu", remedy: str = ""
) -> Any:
    """``torch.load(path, weights_only=True)``; ``what`` (e.g. "subnet file") and ``remedy`` (what
    to do about a damaged one) go into the error."""
    path = Path(path)
    tail = f"; {remedy}" if remedy else ""
    if not path.is_file():
        raise DamagedFileError(f"{path}: no such {what}{tail}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise DamagedFileError(f"{path}: the {what} holds more than tensors, refused (weights_only): "
                               f"{_first_line(exc)}") from exc
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as exc:
        raise DamagedFileError(f"{path}: the {what} is truncated or corrupt ({_first_line(exc)}){tail}") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
