"""Where the shipped configs live: ``elasticvit/configs/`` (experiments, ``spaces/``, ``devices/``),
package data of the installed package (editable or wheel), or the folder ``ELASTICVIT_CONFIGS``
names."""

from __future__ import annotations

import os
from pathlib import Path

CONFIGS = Path(os.environ.get("ELASTICVIT_CONFIGS") or Path(__file__).resolve().parents[1] / "configs")
