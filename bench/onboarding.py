"""Benchmark: a device nobody shipped, onboarded with one command after the quickstart.

Starts the local stack (``.stack``, as the quickstart does), runs ``elasticvit quickstart`` first
when its report is missing (not timed), then times exactly one command,

    .venv/bin/elasticvit device add <spec> -c quickstart --local

for ``torch-cpu-1t-b4`` (PyTorch eager, one thread, batch 4: not in ``configs/devices/``), with the
device's earlier table, search, exports and baseline timings removed first so that nothing is
served from an earlier run. Then reads what a user would look at: the device's exported subnets
(budget, measured latency, test accuracy), the baselines timed on it, and the metric names its
subnet and baseline runs share in MLflow. Writes ``bench/results/onboarding.json``:

    {"onboard_s": T, "commands": 1, "subnets": [{"device": D, "budget_ms": B, "measured_ms": M,
     "test_accuracy": A}], "mlflow_common_metrics": [...], "baseline_rows_for_new_device": N}

    python -m bench.onboarding
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from elasticvit.baselines import BaselineResult, baseline_dir
from elasticvit.baselines.run import RESULT_NAME
from elasticvit.config import load_config
from elasticvit.export.run import ExportReport
from elasticvit.latency import table_path
from elasticvit.layout import device_dir, export_dir, exports_path
from elasticvit.utils.atomic import write_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "onboarding.json"
BIN = ROOT / ".venv" / "bin"
DEVICE = {"name": "torch-cpu-1t-b4", "backend": "torch-eager", "device": "cpu", "threads": 1, "batch_size": 4,
          "clock": "thread", "hardware": "the benchmark host, batch 4"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".stack")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from infra.stack import mlflow_service, prefect_service, stack_env, start

    prefect, mlflow_svc = prefect_service(args.state_dir), mlflow_service(args.state_dir)
    for service in (prefect, mlflow_svc):
        start(service, args.state_dir)
    env = {**os.environ, **stack_env(prefect, mlflow_svc, None)}
    cfg = load_config("quickstart")
    if not (Path(cfg.storage.artifacts_dir) / "report" / "report.json").exists():
        subprocess.run([str(BIN / "elasticvit"), "quickstart", "--state-dir", str(args.state_dir)], cwd=ROOT, env=env,
                       check=True)
    forget_device(cfg, DEVICE["name"])
    spec = args.out.parent / "onboarding-device.yaml"
    spec.write_text(yaml.safe_dump(DEVICE, sort_keys=False))
    command = [str(BIN / "elasticvit"), "device", "add", str(spec), "-c", "quickstart", "--local"]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    onboard_s = time.perf_counter() - started
    exports = ExportReport.load(exports_path(cfg.search, DEVICE["name"]))
    subnets = [
        {"device": m.device, "budget_ms": m.budget_ms, "measured_ms": m.measured_ms, "test_accuracy": m.test_accuracy}
        for m in exports.models
    ]
    timed = [m for m in cfg.baselines.models if DEVICE["name"] in _baseline(cfg, m).latency]
    os.environ.update(stack_env(prefect, mlflow_svc, None))
    record = {
        "onboard_s": round(onboard_s, 1),
        "commands": 1,
        "command": " ".join(["elasticvit", *command[1:]]),
        "subnets": subnets,
        "mlflow_common_metrics": common_metrics(cfg.tracking.experiment, DEVICE["name"]),
        "baseline_rows_for_new_device": len(timed),
        "device": DEVICE,
    }
    write_json(args.out, record)
    print(record)


def forget_device(cfg, name: str) -> None:
    """Remove what an earlier onboarding of ``name`` left, so that this one measures everything."""
    for path in (table_path(cfg.latency.output_dir, name).parent, device_dir(cfg.search, name),
                 export_dir(cfg.search, name)):
        shutil.rmtree(path, ignore_errors=True)
    for model in cfg.baselines.models:
        path = baseline_dir(cfg.baselines.output_dir, model) / RESULT_NAME
        if path.exists():
            result = BaselineResult.load(path)
            latency = {d: m for d, m in result.latency.items() if d != name}
            result.model_copy(update={"latency": latency}).save(path)
    added = Path(cfg.storage.artifacts_dir) / "devices" / f"{name}.yaml"
    added.unlink(missing_ok=True)


def _baseline(cfg, model: str) -> BaselineResult:
    return BaselineResult.load(baseline_dir(cfg.baselines.output_dir, model) / RESULT_NAME)


def common_metrics(experiment: str, device: str) -> list[str]:
    """Metric names every subnet run and every baseline run of ``device`` has."""
    import mlflow

    mlflow.set_tracking_uri(os.environ["ELASTICVIT_TRACKING_URI"])
    runs = mlflow.search_runs(experiment_names=[experiment], filter_string=f"tags.device = '{device}'",
                              output_format="list")
    by_kind = [set(r.data.metrics) for r in runs if r.data.tags.get("kind") in ("subnet", "baseline")]
    kinds = {r.data.tags.get("kind") for r in runs}
    if not by_kind or not {"subnet", "baseline"} <= kinds:
        return []
    return sorted(set.intersection(*by_kind))


if __name__ == "__main__":
    main()
