"""Deployments against a real Prefect server with a real process worker on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from elasticvit.search.driver import DeviceSearchResult
from tests.test_search_stage import DEVICES, _config, _overrides
from tests.test_search_stage import stage_root  # noqa: F401  (fixture: prepared data, supernet, tables)

pytestmark = [pytest.mark.servers, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def worker(prefect_api: str, tmp_path: Path):
    """Start ``prefect worker start`` for a pool; yield a function that starts one."""
    procs: list[subprocess.Popen] = []

    def start(pool: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "PREFECT_API_URL": prefect_api,
            "ELASTICVIT_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        }
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "prefect"), "worker", "start", "--pool", pool, "--type", "process"],
            env=env,
            stdout=open(tmp_path / f"worker-{pool}.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # The worker's graceful shutdown can hang (an anyio "no event loop" error in its
            # cancellation path was seen); the test is over, so end it outright.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _flow_runs(deployment_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    async def read() -> list:
        async with get_client() as client:
            return await client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))

    return asyncio.run(read())


def _wait_final(deployment_id, timeout: float = 240.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = _flow_runs(deployment_id)
        if runs and runs[0].state and runs[0].state.is_final():
            return runs[0]
        time.sleep(2)
    raise TimeoutError(f"no finished flow run for deployment {deployment_id}")


def test_deploy_and_run_prepare_through_worker(tmp_path: Path, prefect_api: str, worker) -> None:
    from prefect.deployments import run_deployment

    from flows.deploy import DEFAULT_POOL, deploy, deployment_specs

    specs = [s for s in deployment_specs("quickstart") if s.name == "prepare"]
    ids = deploy(specs)
    worker(DEFAULT_POOL)
    out = tmp_path / "data"
    run = run_deployment(
        "elasticvit-prepare/prepare",
        parameters={"overrides": [f"data.output_dir={out}", "data.resolution=12"]},
        timeout=0,
    )
    assert run.deployment_id == ids["prepare"]
    final = _wait_final(ids["prepare"])
    assert final.state.is_completed(), final.state
    assert (out / "manifest.json").exists()


def test_specs_cover_every_device_pool_and_the_schedule() -> None:
    from flows.deploy import deployment_specs, latency_pool

    specs = {s.name: s for s in deployment_specs("quickstart", research_cron="*/30 * * * *")}
    for device in ("torch-cpu-1t", "torch-cpu-2t", "onnx-cpu-1t"):
        assert specs[f"latency-{device}"].pool == latency_pool(device)
        assert specs[f"latency-{device}"].parameters["device"] == device
    assert specs["research"].cron == "*/30 * * * *"
    assert specs["search-on-new-table"].on_new_table
    assert specs["pipeline"].pool == "training"

    for spec in specs.values():  # every entrypoint names a flow the worker can load
        from prefect import Flow
        from prefect.flows import load_flow_from_entrypoint

        assert isinstance(load_flow_from_entrypoint(str(REPO / spec.entrypoint)), Flow), spec.entrypoint


def test_a_new_table_event_runs_that_devices_search(stage_root: Path, prefect_api: str, worker) -> None:
    from flows.deploy import DEFAULT_POOL, deploy, deployment_specs
    from tasks.latency import announce_table
    from elasticvit.latency import table_path
    from elasticvit.utils.hashing import sha256_file

    device = DEVICES[0]
    (spec,) = [s for s in deployment_specs("quickstart") if s.on_new_table]
    spec = spec.model_copy(update={"parameters": {**spec.parameters, "overrides": _overrides(stage_root)}})
    ids = deploy([spec])
    worker(DEFAULT_POOL)
    time.sleep(5)  # the server's trigger service loads the new automation
    table = table_path(_config(stage_root).latency.output_dir, device)
    announce_table(_config(stage_root), device, table, sha256_file(table))
    final = _wait_final(ids[spec.name], timeout=400)
    assert final.state.is_completed(), final.state
    assert final.parameters["device"] == device
    result = stage_root / "search" / device / "result.json"
    assert result.exists() and (stage_root / "export" / device / "exports.json").exists()
    assert DeviceSearchResult.load(result).provenance["table_sha256"] == sha256_file(table)


def test_onboarding_measures_on_the_device_pool_then_searches(stage_root: Path, prefect_api: str, worker) -> None:
    from elasticvit.latency import LatencyTable, table_path
    from flows.deploy import deploy, deployment_specs, latency_pool
    from flows.onboard import onboard_device

    device = DEVICES[1]
    overrides = [*_overrides(stage_root), "latency.calibration_archs=3", "latency.validate_archs=3"]
    table = table_path(_config(stage_root).latency.output_dir, device)
    synthetic = LatencyTable.load(table)
    (spec,) = [s for s in deployment_specs("quickstart") if s.name == f"latency-{device}"]
    deploy([spec])
    worker(latency_pool(device))  # the worker a device host would run
    result = onboard_device(device, "quickstart", overrides)
    measured = LatencyTable.load(table)
    assert measured.created != synthetic.created and measured.device.name == device and measured.collect_s > 0
    assert result.device == device and Path(result.export.exports).exists()
    search = DeviceSearchResult.load(stage_root / "search" / device / "result.json")
    assert search.provenance["table_sha256"] == sha256(table)


def sha256(path: Path) -> str:
    from elasticvit.utils.hashing import sha256_file

    return sha256_file(path)
