"""What each stage task and flow hands on: one frozen pydantic record per stage output.

Tasks and flows pass these instead of dicts with string keys, so a misspelt or missing field fails
where the record is built, not in a later stage that reads it. Every record round-trips through
JSON (the parameters Prefect shows for a flow run, the CLI's output) and through pickle (how
Prefect persists a cached task's result). Paths are absolute path strings, as Prefect's UI shows
them and as the library's loaders take them.

A record is built in one place only: where two tasks describe the same thing (a supernet trained
now or found on disk, a latency table just measured or already there, a baseline trained or only
timed), both go through the record's ``of`` classmethod.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from elasticvit.utils.hashing import sha256_file

if TYPE_CHECKING:  # only for annotations: importing it here would load torch for every record user
    from elasticvit.baselines import BaselineResult

RECORDS_VERSION = 2
"""Part of every stage's cache key (``tasks.caching.input_key``). Prefect serves a cached task's
persisted result as it was pickled, so a result stored in an older shape (the dicts before these
records) would reach code that expects the new one: bump this whenever a record's fields change."""


class Record(BaseModel):
    """Base of every record: closed to unknown fields (a typo is an error, not a silent extra key)
    and frozen (a cached result is shared between flow runs; nobody edits it in place)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- one record per stage task ----------------------------------------------------------------------


class PreparedData(Record):
    """The prepared splits (task ``prepare-data``)."""

    data_dir: str
    data_version: str
    """The manifest's content hash: what later stages' cache keys and MLflow tags name the data by."""
    num_classes: int
    mlflow_run_id: str


class SupernetRecord(Record):
    """The trained supernet (task ``train-supernet``, or ``supernet-record`` for one already on disk)."""

    checkpoint: str
    supernet_sha256: str
    mlflow_run_id: str | None = None
    """The train run; None for a checkpoint no recorded run wrote (e.g. trained by DVC elsewhere)."""
    wall_time_s: float | None = None
    """Training wall time (what ``baselines.budget=same_as_supernet`` grants a baseline); None when unknown."""
    final_metrics: dict[str, float]

    @classmethod
    def of(
        cls,
        checkpoint: Path,
        supernet_sha256: str,
        final_metrics: dict[str, float],
        mlflow_run_id: str | None = None,
        wall_time_s: float | None = None,
    ) -> SupernetRecord:
        # the hash is the caller's: ``train`` tags its run with it before the record exists
        return cls(checkpoint=str(checkpoint), supernet_sha256=supernet_sha256, mlflow_run_id=mlflow_run_id,
                   wall_time_s=wall_time_s, final_metrics=final_metrics)


class LatencyTableRecord(Record):
    """One device's block latency table (task ``latency-collect``, or ``latency-table-record`` for a
    table collected elsewhere)."""

    device: str
    table: str
    table_sha256: str
    mlflow_run_id: str | None = None
    """The collect run; None for a table described from disk, whose run this process did not see."""

    @classmethod
    def of(cls, device: str, path: Path, mlflow_run_id: str | None = None) -> LatencyTableRecord:
        return cls(device=device, table=str(Path(path).resolve()), table_sha256=sha256_file(path),
                   mlflow_run_id=mlflow_run_id)


class LatencyValidation(Record):
    """How well the table predicts measured end-to-end latency (task ``latency-validate``)."""

    within_10pct: float
    rmse_ms: float
    summary: str
    """One line for people, with the noise warning appended when there is one."""
    noise_warning: str | None


class ChosenBudget(Record):
    """The arch a search chose for one latency budget."""

    budget_ms: float
    arch_id: str
    val_accuracy: float
    mlflow_run_id: str | None = None
    """The subnet's run (``kind=subnet``, nested under the search run), which the export completes;
    None when unknown (the export then opens the subnet's run itself)."""


class SearchRecord(Record):
    """One device's search (task ``search-device``)."""

    device: str
    result: str
    """The device's ``result.json`` (``elasticvit.search.DeviceSearchResult``)."""
    mlflow_run_id: str
    budgets: list[ChosenBudget]


class TimingRecord(Record):
    """One device's chosen subnets, front and baselines timed interleaved (task ``time-front``)."""

    device: str
    timing: str
    """The device's ``timing.json`` (``elasticvit.baselines.interleaved.InterleavedTiming``)."""
    mlflow_run_id: str
    timing_s: float


class ExportRecord(Record):
    """One device's exported and registered subnets (task ``export-device``)."""

    device: str
    exports: str
    """The device's ``exports.json`` (``elasticvit.export.ExportReport``)."""
    mlflow_run_id: str
    registered_model: str
    versions: list[str]
    """The registered model's versions, one per distinct arch (as MLflow spells them: strings)."""
    test_accuracy: dict[str, float]
    """Per exported model name."""


class BaselineRecord(Record):
    """One trained baseline (task ``baseline-train``, or ``baseline-time`` after timing it on one more device)."""

    model: str
    result: str
    """The baseline's ``result.json`` (``elasticvit.baselines.BaselineResult``)."""
    val_accuracy: float
    latency_ms: dict[str, float]
    """Per device it was timed on."""
    mlflow_run_id: str | None = None
    """The training run; None from ``baseline-time``, which trains nothing."""

    @classmethod
    def of(cls, result: BaselineResult, path: Path, mlflow_run_id: str | None = None) -> BaselineRecord:
        return cls(model=result.model, result=str(path), val_accuracy=result.val_accuracy,
                   latency_ms={d: result.latency_ms(d) for d in result.latency}, mlflow_run_id=mlflow_run_id)


class ComparisonRecord(Record):
    """The baselines placed on every device's Pareto plot (task ``baseline-compare``)."""

    comparison: str
    """The comparison's JSON file (``elasticvit.baselines.Comparison``)."""
    mlflow_run_id: str


class ReportRecord(Record):
    """The run's report (task ``pipeline-report``)."""

    report: str
    """The HTML page."""
    warnings: list[str]
    """Why the run is too short to trust; empty when nothing stood out."""
    mlflow_run_id: str


# --- what flows return --------------------------------------------------------------------------------


class LatencyResult(Record):
    """The latency flow's result: the device's table and its validation."""

    table: LatencyTableRecord
    validation: LatencyValidation


class DeviceResult(Record):
    """The search flow's result: one device's search and its exports."""

    device: str
    search: SearchRecord
    timing: TimingRecord
    export: ExportRecord


class SummaryRow(Record):
    """One line of the table a pipeline or onboarding ends with (``flows.summary``): a chosen subnet,
    or a baseline on the same device (then without budget or arch)."""

    device: str
    model: str
    budget_ms: float | None
    arch_id: str
    macs: int | None
    latency_ms: float
    """Measured on the device where it was timed, else the table's prediction."""
    val_acc: float
    test_acc: float | None


class PipelineResult(Record):
    """The pipeline flow's result."""

    mlflow_run_id: str
    """The pipeline's parent run, under which every stage's run nests."""
    mlflow_runs_url: str | None
    """The MLflow UI's runs table; None without an HTTP tracking server."""
    data: PreparedData
    supernet: SupernetRecord
    latency: dict[str, LatencyResult]
    """Per device."""
    chosen: list[SummaryRow]
    """The chosen subnets, without the baselines' rows (``flows.summary.with_baselines`` adds them)."""
    baselines: list[BaselineRecord]
    comparison: ComparisonRecord | None
    """None when the config names no baselines."""
    report: str
    """The report's HTML page (see ``ReportRecord``)."""
    warnings: list[str]
    stage_s: dict[str, float]
    """Wall seconds per stage."""


class OnboardResult(Record):
    """The onboarding flow's result for the device it added."""

    device: str
    rows: list[SummaryRow]
    """The device's chosen subnets, then the baselines timed on it."""
    search: SearchRecord
    export: ExportRecord
    baselines: list[BaselineRecord]
    comparison: str | None
    """The comparison's JSON file; None when no baseline was trained yet."""
    stage_s: dict[str, float]
    onboard_s: float
