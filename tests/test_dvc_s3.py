"""DVC versioning on an S3 remote served by a real moto server, including an outage."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.stack import free_port

pytestmark = pytest.mark.servers


def _git_dvc_repo(path: Path) -> Path:
    path.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=path, check=True)
    return path


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True)


def test_push_pull_round_trip(tmp_path: Path, s3_env: str) -> None:
    from tasks.versioning import configure_s3_remote, dvc_push, ensure_bucket

    repo = _git_dvc_repo(tmp_path / "repo")
    ensure_bucket("dvc-store")
    configure_s3_remote(repo, "dvc-store", "project", s3_env)
    table = repo / "table.json"
    table.write_text('{"conv-hw16": 0.12}')
    assert _dvc(repo, "add", "table.json").returncode == 0

    dvc_push.fn(repo)
    shutil.rmtree(repo / ".dvc" / "cache")
    table.unlink()
    pulled = _dvc(repo, "pull")
    assert pulled.returncode == 0, pulled.stderr
    assert table.read_text() == '{"conv-hw16": 0.12}'


def test_push_during_outage_retries_then_fails_clearly_then_recovers(
    tmp_path: Path, s3_env: str, prefect_api: str
) -> None:
    from prefect import flow

    from tasks.versioning import ArtifactPushError, configure_s3_remote, dvc_push, ensure_bucket

    repo = _git_dvc_repo(tmp_path / "repo")
    ensure_bucket("dvc-outage")
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens here: S3 is down
    configure_s3_remote(repo, "dvc-outage", "p", dead)
    model = repo / "model.bin"
    model.write_bytes(os.urandom(1024))
    assert _dvc(repo, "add", "model.bin").returncode == 0
    subprocess.run([sys.executable, "-m", "dvc", "remote", "modify", "storage", "retries", "0"], cwd=repo)

    task_run_ids = []

    @flow
    def push_flow() -> str:
        state = dvc_push.with_options(retry_delay_seconds=0)(repo, return_state=True)
        task_run_ids.append(state.state_details.task_run_id)
        return state.result()

    with pytest.raises(ArtifactPushError, match="local artifacts are intact"):
        push_flow()
    assert model.exists() and (repo / ".dvc" / "cache").exists()
    assert _task_run_count(task_run_ids[0]) == 3  # the first try and two retries

    configure_s3_remote(repo, "dvc-outage", "p", s3_env)
    dvc_push.fn(repo)
    shutil.rmtree(repo / ".dvc" / "cache")
    model_bytes = model.read_bytes()
    model.unlink()
    assert _dvc(repo, "pull").returncode == 0
    assert model.read_bytes() == model_bytes


def _task_run_count(task_run_id) -> int:
    import asyncio

    from prefect.client.orchestration import get_client

    async def read() -> int:
        async with get_client() as client:
            return (await client.read_task_run(task_run_id)).run_count

    return asyncio.run(read())
