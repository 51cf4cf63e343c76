"""When a failed task is worth retrying: not when it failed on the user's input.

Every bad-input error the library raises is an ``ElasticViTError`` (a ``ValueError``:
``ConfigError``, ``DatasetError``, ``SpaceError``, ``LatencyTableError``, ``DeviceError``,
``DamagedFileError``, ...) or pydantic's ``ValidationError``: it fails the same way on every try,
so retrying it only delays the message. What can heal (a busy database, a dropped
connection, S3, a killed worker) raises something else and is retried.
"""

from __future__ import annotations

from typing import Any

BAD_INPUT = (ValueError, TypeError, LookupError)


def retry_unless_bad_input(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's ``retry_condition_fn``: retry unless the task raised a bad-input error."""
    return not isinstance(state.data, BAD_INPUT)
