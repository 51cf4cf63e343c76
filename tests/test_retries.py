"""A task that failed on bad input is not retried; one that failed on something that can heal is."""

from __future__ import annotations

import pytest
from prefect import flow, task

from elasticvit.data import DatasetError
from tasks.retries import retry_unless_bad_input

pytestmark = pytest.mark.servers


def _flaky(error: BaseException) -> list[int]:
    calls: list[int] = []

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=retry_unless_bad_input)
    def fails() -> None:
        calls.append(1)
        raise error

    @flow
    def run() -> None:
        fails()

    with pytest.raises(type(error)):
        run()
    return calls


def test_bad_input_fails_at_once_and_a_transient_error_is_retried(prefect_api: str) -> None:
    assert len(_flaky(DatasetError("train.npz: 'labels' must be non-negative integers"))) == 1
    assert len(_flaky(ValueError("unknown optimizer 'adamx'"))) == 1
    assert len(_flaky(ConnectionError("database is busy"))) == 3
