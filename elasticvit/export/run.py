"""The ``export`` stage for one device: every chosen subnet as standalone files, scored on test.

Per budget, under ``<search.export_dir>/<device>/<device>-<budget>ms/``: ``model.onnx`` (parity
checked), ``model.pt`` (weights-only, carries its arch), ``MODEL_CARD.md`` and ``MODEL_CARD.json``
(the device's measured latency is the interleaved timing's where the device has one for this search,
else the search's own measurement);
and ``<search.export_dir>/<device>/exports.json`` listing them all. The figures people compare
(accuracy and latency per budget) also go to ``<search.export_dir>/metrics/<device>.json``, outside
the model folder, for ``dvc metrics``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from torch import Tensor

from elasticvit import layout
from elasticvit.baselines.interleaved import InterleavedTiming
from elasticvit.config.experiment import ExperimentConfig
from elasticvit.data import InMemoryLoader, load_split
from elasticvit.data.loader import CIFAR_MEAN, CIFAR_STD
from elasticvit.export.checkpoint import export_checkpoint
from elasticvit.export.model_card import DeviceLatency, ModelCard, write_model_card
from elasticvit.export.onnx import export_onnx
from elasticvit.export.standalone import standalone_subnet
from elasticvit.latency import LatencyPredictor
from elasticvit.latency.registry import experiment_devices
from elasticvit.model import Supernet
from elasticvit.search.driver import BudgetResult, DeviceSearchResult
from elasticvit.search.scoring import ScoringData, scoring_data, top1, torch_threads
from elasticvit.space import Arch, SearchSpace
from elasticvit.training.checkpoint import load_supernet
from elasticvit.utils.atomic import write_json, write_text
from elasticvit.utils.hashing import sha256_file
from elasticvit.utils.locking import exclusive_dir

STAGING_NAME = ".staging"

PREPROCESSING = (
    "Float32 NCHW RGB tensors: uint8 pixels divided by 255, normalised with mean {mean} and std {std}, "
    "resized (bilinear) to the model's resolution. The batch dimension is dynamic."
)


class ExportedModel(BaseModel):
    """One exported subnet: where its files are and what it scored."""

    model_config = ConfigDict(frozen=True)

    name: str
    device: str
    budget_ms: float
    arch_id: str
    predicted_ms: float
    measured_ms: float | None
    val_accuracy: float
    """Measured by the search with the supernet's shared weights."""
    standalone_val_accuracy: float
    """The same val subset through the extracted model: equal to ``val_accuracy`` up to rounding."""
    test_accuracy: float
    onnx_max_abs_diff: float
    onnx_tolerance: float
    """The parity tolerance the ONNX file was accepted under."""
    macs: int | None
    params: int | None
    onnx: Path
    checkpoint: Path
    card: Path


class ExportReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    device: str
    supernet_sha256: str
    data_version: str
    models: list[ExportedModel]

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_text(path, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ExportReport:
        return cls.model_validate_json(Path(path).read_text())


def run_export(
    cfg: ExperimentConfig,
    device: str,
    *,
    supernet_path: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    supernet_run_id: str | None = None,
) -> ExportReport:
    """Export every arch the search chose for ``device``; write and return the report."""
    with exclusive_dir(Path(cfg.search.export_dir) / device, f"export {device}"):
        return _export(cfg, device, supernet_path, data_dir, supernet_run_id)


def _export(
    cfg: ExperimentConfig,
    device: str,
    supernet_path: str | os.PathLike[str] | None,
    data_dir: str | os.PathLike[str] | None,
    supernet_run_id: str | None,
) -> ExportReport:
    supernet_path = Path(supernet_path or layout.supernet_path(cfg.training.output_dir))
    data_dir = Path(data_dir or cfg.data.output_dir)
    search = DeviceSearchResult.load(layout.search_result_path(cfg.search, device))
    supernet_sha = sha256_file(supernet_path)
    if search.supernet != supernet_sha:
        raise ValueError(
            f"the search result for '{device}' was made with another supernet checkpoint "
            f"({search.supernet[:12]}, now {supernet_sha[:12]}): run the search again"
        )
    supernet, meta = load_supernet(supernet_path)
    data = scoring_data(data_dir, cfg.search)
    test_images, test_labels = load_split(data_dir, "test")
    test = InMemoryLoader(test_images, test_labels, batch_size=cfg.search.eval_batch_size, shuffle=False)
    predictors = _predictors(cfg, meta.space)
    # the device's interleaved timing (chosen subnets beside the baselines), where one was made for this search
    timing = InterleavedTiming.load_for(layout.timing_path(cfg.search, device), search)
    out = layout.export_dir(cfg.search, device)
    # every model is written under a staging folder first: a failure in any budget leaves the
    # previous export whole (its folders and exports.json) and nothing half-made beside it
    staging = out / STAGING_NAME
    shutil.rmtree(staging, ignore_errors=True)  # a killed export's leftovers
    try:
        with torch_threads(cfg.search.threads):
            staged = [
                _export_one(cfg, supernet, meta.space, choice, device, data, list(test), predictors, staging,
                            supernet_sha, supernet_run_id, timing)
                for choice in search.budgets
            ]
        models = [_move_in(model, staging, out) for model in staged]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report = ExportReport(device=device, supernet_sha256=supernet_sha, data_version=data.data_version, models=models)
    report.save(layout.exports_path(cfg.search, device))
    write_json(layout.export_metrics_path(cfg.search, device), export_metrics(report))
    return report


def _move_in(model: ExportedModel, staging: Path, out: Path) -> ExportedModel:
    """Rename a staged model folder into ``out`` (replacing an earlier export of the same budget)."""
    target = out / model.name
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging / model.name, target)
    moved = {f: target / getattr(model, f).relative_to(staging / model.name) for f in ("onnx", "checkpoint", "card")}
    return model.model_copy(update=moved)


def export_metrics(report: ExportReport) -> dict[str, dict[str, float]]:
    """Per exported model: budget, latency and accuracy (numbers only, None left out)."""
    fields = ("budget_ms", "predicted_ms", "measured_ms", "val_accuracy", "test_accuracy", "macs")
    return {
        m.name: {f: float(v) for f in fields if (v := getattr(m, f)) is not None} for m in report.models
    }


def _export_one(
    cfg: ExperimentConfig,
    supernet: Supernet,
    space: SearchSpace,
    choice: BudgetResult,
    device: str,
    data: ScoringData,
    test_batches: list[tuple[Tensor, Tensor]],
    predictors: dict[str, LatencyPredictor],
    out: Path,
    supernet_sha: str,
    supernet_run_id: str | None,
    timing: InterleavedTiming | None,
) -> ExportedModel:
    arch = Arch.model_validate(choice.arch)
    measured_ms = timing.measured_ms(choice.arch_id) if timing else choice.measured_ms
    name = f"{device}-{choice.budget_ms:.4g}ms"
    folder = out / name
    model = standalone_subnet(supernet, arch, data.calib_batches)
    val = top1(model, data.val_batches, arch.resolution)
    test = top1(model, test_batches, arch.resolution)
    onnx = export_onnx(model, (3, arch.resolution, arch.resolution), folder / "model.onnx",
                       cfg.search.onnx_opset, cfg.search.parity_atol, cfg.search.parity_rtol)
    checkpoint = export_checkpoint(folder / "model.pt", model, {
        "device": device, "budget_ms": choice.budget_ms, "val_accuracy": choice.val_accuracy,
        "test_accuracy": test, "supernet_sha256": supernet_sha, "data_version": data.data_version,
    })
    latency = {d: DeviceLatency(predicted_ms=p.predict(arch)) for d, p in predictors.items()}
    latency[device] = DeviceLatency(predicted_ms=choice.predicted_ms, measured_ms=measured_ms)
    card = write_model_card(folder / "MODEL_CARD.md", ModelCard(
        name=name, device=device, budget_ms=choice.budget_ms, arch_id=arch.id, arch=choice.arch,
        resolution=arch.resolution, macs=choice.macs or 0, params=choice.params or 0, latency=latency,
        val_accuracy=choice.val_accuracy, test_accuracy=test, onnx_max_abs_diff=onnx.max_abs_diff,
        supernet_checkpoint=f"sha256:{supernet_sha}", supernet_run_id=supernet_run_id, data_version=data.data_version,
        preprocessing=PREPROCESSING.format(mean=CIFAR_MEAN, std=CIFAR_STD),
        files={"onnx": "model.onnx", "checkpoint": "model.pt (torch.load(weights_only=True); elasticvit.model.load_subnet)"},
    ))
    return ExportedModel(
        name=name, device=device, budget_ms=choice.budget_ms, arch_id=arch.id, predicted_ms=choice.predicted_ms,
        measured_ms=measured_ms, val_accuracy=choice.val_accuracy, standalone_val_accuracy=val,
        test_accuracy=test, onnx_max_abs_diff=onnx.max_abs_diff, onnx_tolerance=onnx.tolerance,
        macs=choice.macs, params=choice.params,
        onnx=onnx.path, checkpoint=checkpoint, card=card,
    )


def _predictors(cfg: ExperimentConfig, space: SearchSpace) -> dict[str, LatencyPredictor]:
    """A predictor for every configured device whose table exists (for the cards' latency rows)."""
    paths = {d: layout.table_path(cfg.latency.output_dir, d) for d in experiment_devices(cfg)}
    return {d: LatencyPredictor.load(p, space) for d, p in paths.items() if p.exists()}

