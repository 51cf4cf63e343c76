"""The real dvc.yaml in a temporary git repository: every stage runs, metrics and plots are readable,
a second repro does nothing, and the Prefect ``pipeline`` flow on the same params.yaml writes the
same artifacts (byte-identical where the stage is deterministic: data, FLOPs pools, weights)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.servers, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
DEVICE = "torch-cpu-1t"
BASELINE = "mobilenetv3_small_050"
# The quickstart config at its smallest: every stage runs, none for long.
TINY = [
    "training.epochs=2", "training.max_steps_per_epoch=2", "training.probes_per_level=1",
    f"latency.devices=[{DEVICE}]", "latency.warmup=1", "latency.repeats=3", "latency.validate_archs=4",
    "latency.calibration_archs=3", "search.population=4", "search.generations=1", "search.parents=2",
    "search.mutations=2", "search.crossovers=2", f"baselines.models=[{BASELINE}]", "baselines.epochs=1",
    "storage.s3_bucket=dvc-pipeline",  # used by the flow (dvc commit + push); `dvc repro` leaves pushing to you
]
# Files whose bytes are a function of the params alone (no clock, no measured latency in them).
DETERMINISTIC = ("data/", "supernet/pools/", "supernet/history.json", "supernet/metrics.json")


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"{' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def _repo(root: Path, prefect_server: str) -> tuple[Path, dict[str, str]]:
    root.mkdir()
    shutil.copy(REPO / "dvc.yaml", root)
    for folder in ("elasticvit",):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PREFECT_API_URL": prefect_server,
        "ELASTICVIT_TRACKING_URI": f"sqlite:///{root.parent / (root.name + '-mlflow.db')}",
        "DVC_NO_ANALYTICS": "1",
    }
    _run(["git", "init", "-q"], root, env)
    _run(["dvc", "init", "-q"], root, env)
    _run(["elasticvit", "params", "-c", "quickstart", *(a for o in TINY for a in ("-s", o)), "--out", "params.yaml"],
         root, env)
    return root, env


def _files(root: Path) -> dict[str, Path]:
    base = root / "artifacts" / "quickstart"
    return {
        p.relative_to(base).as_posix(): p
        for p in base.rglob("*")
        if p.is_file() and p.name != ".gitignore" and not p.name.startswith("evaluations.sqlite")
    }


def _shape(files: dict[str, Path]) -> list[str]:
    return sorted(re.sub(r"-[0-9.]+ms\b", "-<budget>ms", name) for name in files)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def dvc_run(tmp_path_factory: pytest.TempPathFactory, prefect_server: str) -> tuple[Path, dict[str, str]]:
    repo, env = _repo(tmp_path_factory.mktemp("dvc") / "repo", prefect_server)
    _run(["dvc", "repro"], repo, env)
    return repo, env


def test_every_stage_runs_and_a_second_repro_does_nothing(dvc_run: tuple[Path, dict[str, str]]) -> None:
    repo, env = dvc_run
    files = _files(repo)
    for expected in ("data/manifest.json", "supernet/supernet.pt", f"latency/{DEVICE}/table.json",
                     f"search/{DEVICE}/result.json", f"export/metrics/{DEVICE}.json",
                     f"baselines/models/{BASELINE}/result.json", "baselines/comparison/comparison.md"):
        assert expected in files, sorted(files)
    assert any(name.startswith(f"export/{DEVICE}/") and name.endswith("model.onnx") for name in files)
    lock = (repo / "dvc.lock").read_text()
    for stage in ("prepare", "train", f"latency@{DEVICE}", f"search@{DEVICE}", f"export@{DEVICE}",
                  f"baseline@{BASELINE}", "compare"):
        assert f"{stage}:" in lock
    again = _run(["dvc", "repro"], repo, env)
    assert "Running stage" not in again, again
    assert "up to date" in _run(["dvc", "status"], repo, env).lower()


def test_metrics_and_plots_are_declared(dvc_run: tuple[Path, dict[str, str]]) -> None:
    repo, env = dvc_run
    metrics = json.loads(_run(["dvc", "metrics", "show", "--json"], repo, env))
    (workspace,) = metrics.values()  # keyed by revision: "workspace", or "" before the first commit
    by_file = workspace["data"]
    supernet = by_file["artifacts/quickstart/supernet/metrics.json"]["data"]
    assert supernet["steps"] == 4 and 0.0 <= supernet["largest"] <= 1.0
    validation = by_file[f"artifacts/quickstart/latency/{DEVICE}/validation.json"]["data"]
    assert 0.0 <= validation["within_10pct"] <= 1.0 and 0.0 <= validation["remeasure_within_10pct"] <= 1.0
    exported = by_file[f"artifacts/quickstart/export/metrics/{DEVICE}.json"]["data"]
    assert exported and all(0.0 <= m["test_accuracy"] <= 1.0 for m in exported.values())
    plots = json.loads(_run(["dvc", "plots", "show", "--json"], repo, env))["data"]
    (curve,) = [v for k, v in plots.items() if k.endswith("supernet/history.json")]
    values = curve[0]["content"]["data"]["values"]
    assert {row["field"] for row in values} == {"smallest", "largest"} and {row["epoch"] for row in values} == {1, 2}
    assert any(k.endswith(f"search/{DEVICE}/front.png") for k in plots)


def test_the_prefect_pipeline_writes_the_same_artifacts_and_versions_them_on_s3(
    dvc_run: tuple[Path, dict[str, str]], tmp_path: Path, prefect_server: str, s3_env: str
) -> None:
    dvc_repo, _ = dvc_run
    flow_repo, env = _repo(tmp_path / "repo", prefect_server)
    assert (flow_repo / "params.yaml").read_text() == (dvc_repo / "params.yaml").read_text()
    _run(["elasticvit", "run", "-c", "params.yaml"], flow_repo, env)
    by_dvc, by_flow = _files(dvc_repo), _files(flow_repo)
    # the run report is the flow's page, written after the stages, not a DVC stage
    report = {name: by_flow.pop(name) for name in list(by_flow) if name.startswith("report/")}
    assert {"report/index.html", "report/report.json"} <= set(report)
    # export folders are named by their budget, which comes from the measured latency range
    assert _shape(by_dvc) == _shape(by_flow)
    for name, path in by_dvc.items():
        if name.startswith(DETERMINISTIC):
            assert _sha(path) == _sha(by_flow[name]), name
    weights = [torch.load(r / "artifacts/quickstart/supernet/supernet.pt", weights_only=True) for r in (dvc_repo, flow_repo)]
    assert weights[0]["state_dict"].keys() == weights[1]["state_dict"].keys()
    assert all(torch.equal(weights[0]["state_dict"][k], weights[1]["state_dict"][k]) for k in weights[0]["state_dict"])

    # the flow recorded its outputs in dvc.lock and pushed them: a lost file comes back from S3
    assert "train:" in (flow_repo / "dvc.lock").read_text()
    supernet = flow_repo / "artifacts/quickstart/supernet/supernet.pt"
    digest = _sha(supernet)
    shutil.rmtree(flow_repo / ".dvc" / "cache")
    supernet.unlink()
    _run(["dvc", "pull"], flow_repo, env)
    assert _sha(supernet) == digest
