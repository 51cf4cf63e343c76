"""``infra.stack`` signals only the processes it started: a reused or foreign pid is left alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from infra.stack import stop


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)


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
    assert ours.wait(timeout=10) != 0
