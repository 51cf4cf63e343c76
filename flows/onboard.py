"""Onboard a new device: its latency table is measured on the device, then it gets its subnets,
the experiment's baselines are timed on it, and the baseline comparison is extended to it."""

from __future__ import annotations

import time

from prefect.deployments import run_deployment

from elasticvit.config import load_config
from elasticvit.latency.registry import experiment_devices
from elasticvit.latency.validate import ValidationReport
from elasticvit.layout import search_result_path, table_path, trained_baselines, validation_path
from flows.latency import latency_device
from flows.mlflow_runs import runs_url
from flows.parameters import Override, Text
from flows.redacted import flow
from flows.search import search_device_flow
from flows.summary import chosen_rows, summary_markdown, with_baselines
from tasks.baselines import compare_baselines_task, time_baseline_task
from tasks.records import OnboardResult


@flow(name="elasticvit-onboard", log_prints=True)
def onboard_device(
    device: Text,
    config: Text = "quickstart",
    overrides: list[Override] | None = None,
    on_device_pool: bool = True,
) -> OnboardResult:
    """With ``on_device_pool`` the table is measured by the ``latency-<device>`` deployment, i.e. by
    a worker on the device's host; without, in this process (when this host is the device).

    Baselines not trained yet are skipped (the pipeline times them on every device when it trains
    them); the comparison covers every device of the experiment that has a search result.
    """
    cfg = load_config(config, overrides)
    started = time.perf_counter()
    stage_s: dict[str, float] = {}

    def done(stage: str, since: float) -> float:
        now = time.perf_counter()
        stage_s[stage] = now - since
        print(f"onboard {device}: {stage} done in {stage_s[stage]:.0f} s")
        return now

    if on_device_pool:
        print(f"onboard {device}: latency table by the latency-{device} deployment (a worker on pool latency-{device})")
        run = run_deployment(
            f"elasticvit-latency/latency-{device}",
            parameters={"device": device, "config": config, "overrides": overrides or [], "announce": False},
        )
        if not run.state or not run.state.is_completed():
            raise RuntimeError(f"latency collection on device '{device}' ended {run.state}: see flow run {run.id}")
    else:
        print(f"onboard {device}: latency table, measured in this process")
        latency_device(device, config, overrides, announce=False)
    mark = done("latency", started)
    validation = validation_path(table_path(cfg.latency.output_dir, device))
    if validation.exists() and (warning := ValidationReport.model_validate_json(validation.read_text()).noise_warning()):
        print(f"onboard {device}: warning: {warning}")
    searched = search_device_flow(device, config, overrides)
    mark = done("search and export", mark)
    baselines = [time_baseline_task(cfg, model, device) for model in trained_baselines(cfg.baselines)]
    comparison = None
    if baselines:
        searches = [search_result_path(cfg.search, d) for d in experiment_devices(cfg)]
        comparison = compare_baselines_task(cfg, [b.result for b in baselines], [str(p) for p in searches if p.exists()])
    done("baselines", mark)
    rows = with_baselines(chosen_rows([searched.export]), baselines)
    print(f"onboard {device}: finished in {time.perf_counter() - started:.0f} s\n{summary_markdown(rows)}")
    if url := runs_url(cfg, device=device):
        print(f"onboard {device}: MLflow runs (subnets and baselines) {url}")
    return OnboardResult(
        device=device,
        rows=rows,
        search=searched.search,
        export=searched.export,
        baselines=baselines,
        comparison=comparison.comparison if comparison else None,
        stage_s=stage_s,
        onboard_s=time.perf_counter() - started,
    )

