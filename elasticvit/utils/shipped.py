"""Where the shipped configs live: the checkout's ``configs/`` (experiments, ``spaces/``,
``devices/``), or the folder ``ELASTICVIT_CONFIGS`` names (an installed, non-editable package
has no checkout beside it)."""

from __future__ import annotations

import os
from pathlib import Path

CONFIGS = Path(os.environ.get("ELASTICVIT_CONFIGS") or Path(__file__).resolve().parents[2] / "configs")
