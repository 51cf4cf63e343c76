"""The end-to-end pipeline: prepare -> train -> latency per device -> baselines on the same data and
devices -> per device: search, the chosen subnets timed interleaved with the baselines, export and
register -> the comparison and the run's report (an HTML page on the pipeline's MLflow run) -> with ``storage.s3_bucket`` set, every artifact recorded in ``dvc.lock``
and pushed to the S3 remote."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from elasticvit.config import load_config
from elasticvit.latency.registry import experiment_devices
from flows.latency import latency_device
from flows.mlflow_runs import close_parent_run, link_run_artifact, open_parent_run, runs_url
from flows.parameters import Override, Text
from flows.redacted import flow
from flows.search import search_device_flow
from flows.summary import chosen_rows, summary_markdown, with_baselines
from tasks.baselines import baseline_marker, compare_baselines_task, time_baseline_task, train_baseline_task
from tasks.caching import refresh_if_missing
from tasks.prepare import prepare_data, prepare_marker
from tasks.records import PipelineResult
from tasks.report import pipeline_report
from tasks.train import train, train_marker
from tasks.versioning import commit_pipeline, dvc_push


@flow(name="elasticvit-pipeline", log_prints=True)
def pipeline(config: Text = "quickstart", overrides: list[Override] | None = None) -> PipelineResult:
    cfg = load_config(config, overrides)
    parent = open_parent_run(cfg, "pipeline")
    devices = experiment_devices(cfg)
    stage_s: dict[str, float] = {}
    try:
        with timed(stage_s, "prepare"):
            data = refresh_if_missing(prepare_data, prepare_marker(cfg))(cfg, parent_run_id=parent)
        with timed(stage_s, "train"):
            supernet = refresh_if_missing(train, train_marker(cfg))(cfg, data, parent_run_id=parent)
        # Everything below runs one step at a time on purpose: a latency measured while another
        # stage computes on the same host describes a busier machine than the device.
        with timed(stage_s, "latency"):
            latency = {
                device: latency_device(device, config, overrides, data.num_classes, parent, announce=False)
                for device in devices
            }
        with timed(stage_s, "baselines"):
            # trained before the searches: each device's chosen subnets are timed beside them
            baselines = [
                refresh_if_missing(train_baseline_task, baseline_marker(cfg, model))(
                    cfg, model, data.data_dir, data.data_version, supernet.wall_time_s, parent_run_id=parent
                )
                for model in cfg.baselines.models
            ]
            for device in devices[len(cfg.latency.devices):]:  # added ones: timed, never retrained for
                for baseline in baselines:
                    time_baseline_task(cfg, baseline.model, device, parent_run_id=parent)
        with timed(stage_s, "search"):
            # this run's data, supernet and baseline records go down: no device prepares again or re-reads them
            searched = {
                device: search_device_flow(device, config, overrides, parent, data=data, supernet=supernet,
                                           baselines=baselines)
                for device in devices
            }
            comparison = (
                compare_baselines_task(
                    cfg, [b.result for b in baselines], [s.search.result for s in searched.values()], parent
                )
                if baselines
                else None
            )
        report = pipeline_report(
            cfg,
            [s.search.result for s in searched.values()],
            [s.export.exports for s in searched.values()],
            comparison.comparison if comparison else None,
            parent_run_id=parent,
            baselines=[b.result for b in baselines],
            stage_s=stage_s,
        )
        if cfg.storage.s3_bucket:  # version every artifact of this run on the S3 remote
            dvc_push(Path(commit_pipeline(cfg)))
    except BaseException:
        close_parent_run(parent, "FAILED")
        raise
    close_parent_run(parent)
    rows = chosen_rows([s.export for s in searched.values()])
    table = summary_markdown(with_baselines(rows, baselines))
    summary = f"{table}\n\nReport: `{report.report}` (MLflow artifacts `report/` of this run)"
    link_run_artifact(cfg, parent, "pipeline-mlflow-run", summary)
    return PipelineResult(
        mlflow_run_id=parent,
        mlflow_runs_url=runs_url(cfg),
        data=data,
        supernet=supernet,
        latency=latency,
        chosen=rows,
        baselines=baselines,
        comparison=comparison,
        report=report.report,
        warnings=report.warnings,
        stage_s=stage_s,
    )


@contextmanager
def timed(into: dict[str, float], stage: str) -> Iterator[None]:
    """Add the wall seconds of the block to ``into[stage]``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        into[stage] = into.get(stage, 0.0) + time.perf_counter() - started
