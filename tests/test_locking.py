"""One run per output directory: a second is refused naming the holder, a dead holder's lock is
taken over, and the orphans of killed atomic writes are removed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from elasticvit.training import train_supernet
from elasticvit.utils.locking import LOCK_NAME, DirectoryLockedError, exclusive_dir
from tests.test_training_loop import TINY_SPACE, tiny_config, write_tiny_data

HOLDER = """
import sys, time
from elasticvit.utils.locking import exclusive_dir
with exclusive_dir(sys.argv[1], "train"):
    print("held", flush=True)
    time.sleep(60)
"""


def _write_lock(directory: Path, pid: int, host: str | None = None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    holder = {"pid": pid, "host": host or socket.gethostname(), "what": "train", "since": "earlier"}
    (directory / LOCK_NAME).write_text(json.dumps(holder))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_second_run_in_another_process_is_refused_naming_the_holder(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "out")], stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(DirectoryLockedError, match=rf"in use by 'train' \(pid {holder.pid} on "):
            with exclusive_dir(tmp_path / "out", "train"):
                pass
    finally:
        holder.kill()
        holder.wait()
    # its holder gone, the directory is free
    with exclusive_dir(tmp_path / "out", "train"):
        assert json.loads((tmp_path / "out" / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert not (tmp_path / "out" / LOCK_NAME).exists()


def test_the_same_directory_twice_in_one_process_is_refused(tmp_path: Path) -> None:
    with exclusive_dir(tmp_path, "search torch-cpu-1t"):
        with pytest.raises(DirectoryLockedError, match="search torch-cpu-1t"):
            with exclusive_dir(tmp_path, "search torch-cpu-1t"):
                pass


def test_a_dead_holders_lock_is_taken_over(tmp_path: Path) -> None:
    _write_lock(tmp_path, _dead_pid())
    with exclusive_dir(tmp_path, "train"):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_a_lock_left_by_an_earlier_process_with_this_pid_is_taken_over(tmp_path: Path) -> None:
    # a restarted container runs its job under the same small PID
    _write_lock(tmp_path, os.getpid())
    with exclusive_dir(tmp_path, "train"):
        pass


def test_another_hosts_lock_is_not_taken(tmp_path: Path) -> None:
    _write_lock(tmp_path, _dead_pid(), host="some-other-host")
    with pytest.raises(DirectoryLockedError, match="some-other-host"):
        with exclusive_dir(tmp_path, "train"):
            pass


def test_orphans_of_killed_writes_are_removed_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "pools").mkdir()
    orphans = [tmp_path / ".checkpoint.pt.x1.tmp", tmp_path / "pools" / ".level-0.json.y2.tmp"]
    kept = [tmp_path / "checkpoint.pt", tmp_path / "notes.tmp", tmp_path / "pools" / "level-0.json"]
    for path in orphans + kept:
        path.write_text("x")
    with exclusive_dir(tmp_path, "train"):
        assert [p.exists() for p in orphans] == [False, False]
        assert all(p.exists() for p in kept)


def test_a_refused_run_leaves_no_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with exclusive_dir(tmp_path / "a" / "b", "export"):
            raise RuntimeError("the export failed before writing")
    assert list(tmp_path.iterdir()) == []


def test_a_second_training_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    data = write_tiny_data(tmp_path / "data")
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    cfg = tiny_config(space, "uniform", epochs=1)
    out = tmp_path / "out"
    started = time.monotonic()
    with exclusive_dir(out, "train"):
        (out / "supernet.pt").write_text("the first run's")
        with pytest.raises(DirectoryLockedError, match="in use by 'train'"):
            train_supernet(cfg, data, out)
        assert (out / "supernet.pt").read_text() == "the first run's"
    assert time.monotonic() - started < 15  # refused at once, not after training
