"""Flow behaviour with real artifacts: research picks exactly the changed devices, concurrent
device searches keep their artifacts apart, and a killed flow resumes from its cache."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from elasticvit.latency import LatencyTable, table_path
from elasticvit.search.driver import DeviceSearchResult
from elasticvit.search.run import run_search
from elasticvit.training.checkpoint import CHECKPOINT_NAME
from tests.test_search_stage import DEVICES, _config, _overrides
from tests.test_search_stage import stage_root  # noqa: F401  (fixture: prepared data, supernet, tables)

pytestmark = pytest.mark.slow


def test_research_selects_only_changed_devices(stage_root: Path, prefect_api: str, sqlite_tracking: str) -> None:
    from flows.research import research, stale_devices

    cfg = _config(stage_root)
    for device in DEVICES:
        if not (stage_root / "search" / device / "result.json").exists():
            run_search(cfg, device)
    assert stale_devices.fn(cfg) == []
    assert research("quickstart", _overrides(stage_root)) == []  # nothing changed: nothing searched

    path = table_path(cfg.latency.output_dir, DEVICES[1])
    table = LatencyTable.load(path)
    key = sorted(table.entries)[0]
    entry = table.entries[key]
    slower = entry.latency.model_copy(update={k: getattr(entry.latency, k) * 2 for k in ("median_ms", "mean_ms", "min_ms")})
    changed = table.model_copy(update={"entries": {**table.entries, key: entry.model_copy(update={"latency": slower})}})
    changed.save(path)
    assert stale_devices.fn(cfg) == [DEVICES[1]]


def test_concurrent_device_searches_write_separate_artifacts(stage_root: Path, tmp_path: Path) -> None:
    search_dir = tmp_path / "search"
    code = (
        "import sys; from tests.test_search_stage import _config; from elasticvit.search.run import run_search;"
        "from pathlib import Path;"
        f"cfg = _config(Path({str(stage_root)!r}), output_dir={str(search_dir)!r});"
        "run_search(cfg, sys.argv[1])"
    )
    repo = Path(__file__).resolve().parents[1]
    procs = [subprocess.Popen([sys.executable, "-c", code, device], cwd=repo) for device in DEVICES]
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    results = {device: DeviceSearchResult.load(search_dir / device / "result.json") for device in DEVICES}
    assert {r.device for r in results.values()} == set(DEVICES)
    for device in DEVICES:
        assert (search_dir / device / "front.png").exists()
        assert results[device].provenance["table_sha256"] != results[next(d for d in DEVICES if d != device)].provenance["table_sha256"]


def test_killed_flow_resumes_from_cache(tmp_path: Path, prefect_api: str, sqlite_tracking: str) -> None:
    from mlflow.tracking import MlflowClient

    from flows.stages import train_flow

    overrides = [
        f"data.output_dir={tmp_path / 'data'}", f"training.output_dir={tmp_path / 'supernet'}",
        "training.epochs=2", "training.max_steps_per_epoch=8", "training.batch_size=32",
        "training.checkpoint_every_steps=1", "training.probes_per_level=0", "training.bn_calib_batches=1",
        "sampling.num_levels=2", "sampling.pool_size=20", "tracking.experiment=resume-test",
    ]
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    code = "import sys; from flows.stages import train_flow; train_flow('quickstart', sys.argv[1:])"
    proc = subprocess.Popen([sys.executable, "-c", code, *overrides], env=env, start_new_session=True)
    checkpoints = tmp_path / "supernet"
    deadline = time.monotonic() + 400
    while not (checkpoints / CHECKPOINT_NAME).exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # mid-training: data prepared, training checkpointed
    proc.wait()
    assert (tmp_path / "data" / "manifest.json").exists() and not (checkpoints / "supernet.pt").exists()

    import mlflow

    mlflow.set_tracking_uri(sqlite_tracking)
    client = MlflowClient()
    experiment = client.get_experiment_by_name("resume-test")
    prepare_runs = client.search_runs([experiment.experiment_id], "tags.stage = 'prepare'")
    assert len(prepare_runs) == 1

    result = train_flow("quickstart", overrides)
    assert Path(result.checkpoint).exists()
    assert len(client.search_runs([experiment.experiment_id], "tags.stage = 'prepare'")) == 1  # prepare was a cache hit
