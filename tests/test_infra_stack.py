"""``infra.stack`` signals only the processes it started: a reused or foreign pid is left alone."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.stack import _alive, main, start, stop, worker_service


def _sleeper() -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"],
                            start_new_session=True, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "up"  # running its own command line
    return proc


def test_a_pid_now_running_another_program_is_not_signalled(tmp_path: Path) -> None:
    other = _sleeper()  # e.g. the pid was reused after the server died
    try:
        (tmp_path / "mlflow.pid").write_text(json.dumps({"pid": other.pid, "program": "mlflow"}))
        assert stop("mlflow", tmp_path) is False
        assert other.poll() is None
        assert not (tmp_path / "mlflow.pid").exists()
        (tmp_path / "mlflow.pid").write_text(str(other.pid))  # a pid file not written by `start`
        assert stop("mlflow", tmp_path) is False
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_the_started_program_is_stopped(tmp_path: Path) -> None:
    ours = _sleeper()
    program = Path(sys.executable).name
    (tmp_path / "svc.pid").write_text(json.dumps({"pid": ours.pid, "program": program}))
    assert stop("svc", tmp_path, timeout=10) is True
    assert not _alive(ours.pid)  # stop reaped it


@pytest.mark.slow
def test_a_stack_worker_polls_its_pool_and_down_stops_it(prefect_server: str, tmp_path: Path) -> None:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.settings import PREFECT_API_URL, temporary_settings

    service = worker_service("stack-test-pool", {"PREFECT_API_URL": prefect_server})
    pid = start(service, tmp_path)
    assert start(service, tmp_path) == pid  # idempotent

    async def online() -> bool:
        async with get_client() as client:
            try:
                workers = await client.read_workers_for_work_pool("stack-test-pool")
            except PrefectHTTPStatusError as exc:
                if exc.response.status_code == 404:  # the starting worker has not created its pool yet
                    return False
                raise
            return any(w.status == "ONLINE" for w in workers)

    with temporary_settings(updates={PREFECT_API_URL: prefect_server}):
        deadline = time.monotonic() + 60
        while not asyncio.run(online()) and time.monotonic() < deadline:
            time.sleep(1)
        assert asyncio.run(online())
    assert main(["down", "--state-dir", str(tmp_path)]) == 0
    deadline = time.monotonic() + 15
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid) and not list(tmp_path.glob("worker-*.pid"))
