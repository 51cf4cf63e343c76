"""Prefect task for the interleaved timing: after a device's search, its chosen subnets, part of its
front and the trained baselines timed end to end in one run on the device
(``elasticvit.baselines.interleaved``). The export, the comparison and the report read its file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
from prefect import task
from prefect.context import TaskRunContext

from elasticvit.baselines import BaselineResult
from elasticvit.baselines.interleaved import time_front
from elasticvit.config import ExperimentConfig
from elasticvit.latency.registry import device_spec
from elasticvit.layout import timing_path
from elasticvit.search import DeviceSearchResult
from elasticvit.utils.hashing import sha256_file
from tasks.caching import input_key
from tasks.records import SearchRecord, SupernetRecord, TimingRecord
from tasks.retries import retry_unless_bad_input
from tasks.tracking import stage_run


def timing_marker(cfg: ExperimentConfig, device: str) -> Path:
    return timing_path(cfg.search, device).resolve()


def _cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    # parent_run_id is left out: where the run is filed does not change the timing
    cfg: ExperimentConfig = parameters["cfg"]
    device: str = parameters["device"]
    inputs = {
        # the calibration count fits the table's correction, not these timings (as latency.calibration_archs)
        "device": device_spec(cfg, device).model_dump(mode="json", exclude={"calibration_archs"}),
        "search": sha256_file(parameters["search"].result),
        "baselines": [sha256_file(p) for p in parameters["baseline_results"]],
        "latency": cfg.latency.model_dump(mode="json", exclude={"calibration_archs", "validate_archs", "output_dir"}),
        "timed_front": cfg.search.timed_front,
        "out": str(timing_marker(cfg, device)),
    }
    return input_key(f"timing-{device}", inputs)


@task(
    name="time-front", cache_key_fn=_cache_key, persist_result=True, retries=1, retry_delay_seconds=10,
    retry_condition_fn=retry_unless_bad_input,
)
def time_front_task(
    cfg: ExperimentConfig,
    device: str,
    supernet: SupernetRecord,
    search: SearchRecord,
    baseline_results: list[str],
    parent_run_id: str | None = None,
) -> TimingRecord:
    """Time the device's chosen subnets, thinned front and ``baseline_results`` interleaved; one MLflow run."""
    baselines = [BaselineResult.load(p) for p in baseline_results]
    tags = {"device": device, "kind": "timing", "supernet_run_id": supernet.mlflow_run_id}
    with stage_run(cfg, "timing", parent_run_id=parent_run_id, run_name=f"timing-{device}", tags=tags) as run:
        result = DeviceSearchResult.load(search.result)
        timing = time_front(cfg, result, supernet.checkpoint, baselines)
        path = timing.save(timing_marker(cfg, device))
        # arch ids are not valid metric names: the chosen ones are named by budget (one arch may serve
        # several), the baselines by model
        mlflow.log_metrics({
            "timing_s": timing.timing_s, "models_timed": len(timing.models),
            **{f"latency_ms/chosen_{b.budget_ms:.4g}ms": timing.measured_ms(b.arch_id) for b in result.budgets},
            **{f"latency_ms/{m.name}": m.measured_ms for m in timing.models if m.kind == "baseline"},
        })
        mlflow.log_artifact(str(path), artifact_path="timing")
    for m in timing.models:
        predicted = "" if m.predicted_ms is None else f", predicted {m.predicted_ms:.3f} ms"
        print(f"{device}: {m.kind} {m.name} measured {m.measured_ms:.3f} ms{predicted}")
    return TimingRecord(device=device, timing=str(path), mlflow_run_id=run.info.run_id, timing_s=timing.timing_s)
