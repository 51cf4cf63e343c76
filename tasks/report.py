"""Prefect task for the run report: the page a pipeline run ends with, logged on the pipeline's run.

The files go to the parent (pipeline) run itself, under ``report/``, not to a child run: the
pipeline run is what someone opens in MLflow, and its report should be the first thing there.
"""

from __future__ import annotations

from pathlib import Path
import mlflow
from mlflow.tracking import MlflowClient
from prefect import task

from elasticvit.baselines import BaselineResult, Comparison
from elasticvit.config import ExperimentConfig
from elasticvit.export.run import ExportReport
from elasticvit.report import run_report
from elasticvit.search import DeviceSearchResult
from tasks.records import ReportRecord
from tasks.tracking import configure_mlflow, stage_run

ARTIFACT_PATH = "report"


@task(name="pipeline-report")
def pipeline_report(
    cfg: ExperimentConfig,
    search_results: list[str],
    export_reports: list[str],
    comparison: str | None = None,
    parent_run_id: str | None = None,
    baselines: list[str] | None = None,
    stage_s: dict[str, float] | None = None,
) -> ReportRecord:
    """Write the run's report from its stages' files and log it; return the page's path, the reasons
    the run is too short to trust, and the run id.

    ``comparison`` is the baseline comparison's JSON (None: no baselines), ``baselines`` the baselines'
    result files, ``stage_s`` the wall seconds of each stage so far. Without a parent run the
    report gets a run of its own. Cheap and it only reads files, so it is not cached.
    """
    report, paths = run_report(
        cfg,
        [DeviceSearchResult.load(p) for p in search_results],
        [ExportReport.load(p) for p in export_reports],
        Comparison.load(comparison) if comparison else None,
        facts={"MLflow run": parent_run_id} if parent_run_id else None,
        baselines=[BaselineResult.load(p) for p in baselines or []],
        stage_s=stage_s,
    )
    # Log exactly these files: the folder may still hold an earlier run's (a device since dropped).
    if parent_run_id is None:
        with stage_run(cfg, "report", tags={"kind": "report"}) as run:
            for path in paths:
                mlflow.log_artifact(str(path), artifact_path=ARTIFACT_PATH)
        run_id = run.info.run_id
    else:
        configure_mlflow(cfg)
        client = MlflowClient()
        for path in paths:
            client.log_artifact(parent_run_id, str(path), artifact_path=ARTIFACT_PATH)
        run_id = parent_run_id
    return ReportRecord(report=str(Path(paths[-1]).resolve()), warnings=report.warnings, mlflow_run_id=run_id)
