"""Per-device latency: device specs, runtime backends, block lookup tables, the predictor.

Stage entry points (plain functions, no orchestration): ``collect_table`` measures a device's
table, ``LatencyPredictor.from_table`` predicts from it, ``validate_predictor`` checks predictions
against end-to-end measurements. See docs/latency.md.
"""

from elasticvit.latency.backends import Backend, BackendError, get_backend, register_backend
from elasticvit.latency.collect import calibration_archs, collect_table
from elasticvit.latency.correction import CalibrationPoint, Correction, fit_correction
from elasticvit.latency.devices import DeviceError, DeviceSpec, list_devices, load_device
from elasticvit.layout import table_path
from elasticvit.latency.lut import (
    LatencyTable,
    LatencyTableError,
    MissingBlockError,
    TableMismatchError,
)
from elasticvit.latency.measure import Measurement
from elasticvit.latency.plots import scatter_plot
from elasticvit.latency.predictor import LatencyPredictor
from elasticvit.latency.timing import measure_arch
from elasticvit.latency.validate import ValidationReport, validate_predictor

__all__ = [
    "Backend",
    "BackendError",
    "CalibrationPoint",
    "Correction",
    "DeviceError",
    "DeviceSpec",
    "LatencyPredictor",
    "LatencyTable",
    "LatencyTableError",
    "Measurement",
    "MissingBlockError",
    "TableMismatchError",
    "ValidationReport",
    "calibration_archs",
    "collect_table",
    "fit_correction",
    "get_backend",
    "list_devices",
    "load_device",
    "measure_arch",
    "register_backend",
    "scatter_plot",
    "table_path",
    "validate_predictor",
]
