"""``dvc repro`` runs the real dvc.yaml in a temporary git repository; a second repro does nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.servers, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"{' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.fixture
def dvc_repo(tmp_path: Path, prefect_server: str) -> tuple[Path, dict[str, str]]:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(REPO / "dvc.yaml", repo)
    shutil.copytree(REPO / "elasticvit", repo / "elasticvit", ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PREFECT_API_URL": prefect_server,
        "ELASTICVIT_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    _run(["git", "init", "-q"], repo, env)
    _run(["dvc", "init", "-q"], repo, env)
    _run(["elasticvit", "params", "-c", "quickstart", "-s", "data.resolution=16", "--out", "params.yaml"], repo, env)
    return repo, env


def test_dvc_repro_prepare_then_nothing_changed(dvc_repo: tuple[Path, dict[str, str]]) -> None:
    repo, env = dvc_repo
    _run(["dvc", "repro", "prepare"], repo, env)
    assert (repo / "artifacts" / "quickstart" / "data" / "manifest.json").exists()
    assert (repo / "dvc.lock").exists()
    second = _run(["dvc", "repro", "prepare"], repo, env)
    assert "didn't change" in second or "is cached" in second or "up to date" in second, second
    status = _run(["dvc", "status"], repo, env)
    assert "up to date" in status.lower(), status
