"""Reading an ``.npz`` of arrays, the one way: a missing, truncated or pickled file is named.

``np.load`` is lazy: a truncated member only fails when its array is read, so every wanted array
is read here, inside the same guard, and a damaged file becomes one ``DatasetError`` naming it.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from elasticvit.data.errors import DatasetError


def read_npz(
    path: str | os.PathLike[str], required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """The ``required`` arrays (and those of ``optional`` present) of the npz at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file; expected an .npz with arrays {', '.join(required)}")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in required if k not in data.files]
            if missing:
                raise DatasetError(f"{path}: missing array(s) {', '.join(missing)}; expected "
                                   f"{', '.join(required)} (has {', '.join(data.files) or 'none'})")
            return {k: data[k] for k in [*required, *optional] if k in data.files}
    except DatasetError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(f"{path}: not a readable .npz (truncated, corrupt or holding pickled objects): "
                           f"{reason}") from exc
