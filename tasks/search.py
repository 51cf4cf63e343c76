"""Prefect task for the ``search`` stage: one device's search as an MLflow run, one child run per budget
(the chosen subnet's run, which the export completes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
from prefect import task
from prefect.context import TaskRunContext

from elasticvit.config import ExperimentConfig
from elasticvit.layout import search_front_path, search_result_path
from elasticvit.search import BudgetResult, SearchCallback
from elasticvit.search.run import run_search
from tasks.caching import input_key
from tasks.records import ChosenBudget, LatencyTableRecord, PreparedData, SearchRecord, SupernetRecord
from tasks.retries import retry_unless_bad_input
from tasks.tracking import (
    SUBNET_STAGE, common_tags, log_flat_params, run_logger, stage_run, subnet_metrics, subnet_tags,
)


class MlflowSearchCallback(SearchCallback):
    """The best arch's val accuracy per generation on the device's run; a nested run per chosen budget.

    A budget's run is the subnet's one run (``kind=subnet``): the export task later adds its test
    accuracy and ONNX model to it (``tasks.export``), so ``run_ids`` keeps each budget's run id.
    """

    def __init__(self, cfg: ExperimentConfig, device: str, tags: dict[str, str]) -> None:
        self.cfg = cfg
        self.device = device
        self.tags = tags
        self.run_ids: dict[float, str] = {}

    def on_generation(self, budget_ms: float, generation: int, best_accuracy: float, evaluations: int) -> None:
        prefix = f"budget_{budget_ms:.4g}ms"
        mlflow.log_metrics({f"{prefix}/best_val_accuracy": best_accuracy, f"{prefix}/evaluations": evaluations},
                           step=generation)

    def on_budget(self, result: BudgetResult) -> None:
        logger = run_logger()
        (logger.info if result.within_budget is not False else logger.warning)("%s: %s", self.device, result.describe())
        tags = {**self.tags, **subnet_tags(self.device, result.budget_ms, result.arch_id, result.measured_ms)}
        with mlflow.start_run(run_name=f"{self.device}-{result.budget_ms:.4g}ms", nested=True,
                              tags=common_tags(self.cfg, SUBNET_STAGE, tags)) as run:
            mlflow.log_params({"budget_ms": result.budget_ms, "arch_id": result.arch_id})
            search = {"evaluations": result.evaluations, "measured": result.measured, "search_s": result.search_s,
                      "rejected_over_budget": len(result.rejected)}
            if result.within_budget is not None:
                search["within_budget"] = float(result.within_budget)
            if result.val_loss is not None:
                search["val_loss"] = result.val_loss
            mlflow.log_metrics({**subnet_metrics(result.val_accuracy, result.measured_ms, result.predicted_ms,
                                                 result.macs, result.params), **search})
            # the history is the search's score: the top-1, or minus the loss
            name, sign = ("best_val_accuracy", 1.0) if self.cfg.search.rank_by == "accuracy" else ("best_val_loss", -1.0)
            for generation, score in enumerate(result.history):
                mlflow.log_metric(name, sign * score, step=generation)
            mlflow.log_dict(result.arch, "arch.json")
        self.run_ids[result.budget_ms] = run.info.run_id


def _cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    # parent_run_id is left out: where the run is filed does not change the result
    cfg: ExperimentConfig = parameters["cfg"]
    inputs = {
        "device": parameters["device"],
        "search": cfg.search.model_dump(mode="json"),
        "supernet": parameters["supernet"].supernet_sha256,
        "data_version": parameters["data"].data_version,
        "table": parameters["table"].table_sha256,
    }
    return input_key(f"search-{parameters['device']}", {**inputs, "out": str(search_marker(cfg, parameters["device"]))})


def search_marker(cfg: ExperimentConfig, device: str) -> Path:
    return search_result_path(cfg.search, device).resolve()


@task(
    name="search-device", cache_key_fn=_cache_key, persist_result=True, retries=1, retry_delay_seconds=10,
    retry_condition_fn=retry_unless_bad_input,
)
def search_device(
    cfg: ExperimentConfig,
    device: str,
    data: PreparedData,
    supernet: SupernetRecord,
    table: LatencyTableRecord,
    parent_run_id: str | None = None,
) -> SearchRecord:
    """Search ``device``'s subnet per budget; return the result path, the run id and the choices.

    A retry loses nothing already measured: accuracies are in the persistent cache.
    """
    tags = {"device": device, "data_version": data.data_version, "supernet_run_id": supernet.mlflow_run_id}
    with stage_run(cfg, "search", parent_run_id=parent_run_id, run_name=f"search-{device}", tags=tags) as run:
        log_flat_params("search", cfg.search)
        result = run_search(cfg, device, supernet_path=supernet.checkpoint, data_dir=data.data_dir,
                            callback=(callback := MlflowSearchCallback(cfg, device, tags)))
        mlflow.log_metrics({"measured": result.measured, "cache_hits": result.cache_hits, "search_s": result.search_s,
                            "front_size": len(result.front)})
        mlflow.log_artifact(str(search_result_path(cfg.search, device)), artifact_path="search")
        mlflow.log_artifact(str(search_front_path(cfg.search, device)), artifact_path="search")
    return SearchRecord(
        device=device,
        result=str(search_marker(cfg, device)),
        mlflow_run_id=run.info.run_id,
        budgets=[ChosenBudget(budget_ms=b.budget_ms, arch_id=b.arch_id, val_accuracy=b.val_accuracy,
                              mlflow_run_id=callback.run_ids.get(b.budget_ms))
                 for b in result.budgets],
    )
