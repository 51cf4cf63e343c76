"""Cache keys for stage tasks: the stage's inputs, and only while its outputs still exist.

Prefect's plain input cache would return a stored result even after someone deleted the files it
points to; keying on the presence of the stage's completion marker (its manifest) avoids that: with
the marker gone the key is fresh and the stage runs again.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from elasticvit.utils.hashing import stable_hash


def output_guarded_key(stage: str, inputs: object, marker: Path) -> str:
    if not marker.exists():
        return f"{stage}-missing-{uuid.uuid4().hex}"
    return f"{stage}-{stable_hash(inputs)}"
