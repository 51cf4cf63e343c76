"""Input-keyed caching that never serves a result whose files are gone.

A stage task's cache key is a hash of the inputs that change its output. Prefect would return a
cached result even after someone deleted the files it points to, so callers run a stage through
``refresh_if_missing``: when the stage's completion marker (its manifest, table or checkpoint) is
missing, the task runs with ``refresh_cache`` and its new result replaces the stale record.

Every key also holds ``tasks.records.RECORDS_VERSION``: a result persisted in another record shape
(the dicts tasks returned before) is never served to code that reads the current one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from prefect import Task

from elasticvit.utils.hashing import stable_hash
from tasks.records import RECORDS_VERSION

T = TypeVar("T", bound=Task[Any, Any])


def input_key(stage: str, inputs: object) -> str:
    return f"{stage}-{stable_hash({'records': RECORDS_VERSION, 'inputs': inputs})}"


def refresh_if_missing(task: T, marker: Path) -> T:
    return task.with_options(refresh_cache=True) if not Path(marker).exists() else task
