"""Chosen subnets as standalone artifacts: ONNX with a parity check, weights-only checkpoints,
model cards, and scoring of exported files on any labelled npz."""

from elasticvit.export.checkpoint import CheckpointError, export_checkpoint
from elasticvit.export.evaluate import evaluate_files, load_npz
from elasticvit.export.model_card import DeviceLatency, ModelCard, render_model_card, write_model_card
from elasticvit.export.onnx import OnnxExport, ParityError, export_onnx, parity
from elasticvit.export.run import ExportedModel, ExportReport, run_export
from elasticvit.export.standalone import standalone_subnet

__all__ = [
    "CheckpointError",
    "DeviceLatency",
    "ExportReport",
    "ExportedModel",
    "ModelCard",
    "OnnxExport",
    "ParityError",
    "evaluate_files",
    "export_checkpoint",
    "export_onnx",
    "load_npz",
    "parity",
    "render_model_card",
    "run_export",
    "standalone_subnet",
    "write_model_card",
]
