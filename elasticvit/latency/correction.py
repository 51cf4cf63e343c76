"""The per-device correction from a sum of block latencies to end-to-end latency.

Blocks are timed one at a time, so their sum misses what only a whole model shows:

- per-call overhead: a runtime such as ONNX Runtime charges a fixed cost per ``run`` (dispatch,
  input/output binding). A block timed alone pays it once per block, a model once in total. When
  the backend says so (``Backend.call_overhead_once``), the table subtracts a measured empty-model
  call from every block and the correction adds one back (the offset).
- fusion and layout: inside one graph the runtime fuses across block boundaries and skips layout
  conversions between consecutive convolutions (ORT's blocked NCHWc format); eager PyTorch keeps
  activations in cache from one block to the next. These scale roughly with model size (the slope).

So ``measured ~= scale * (block sum - blocks * per-block overhead) + offset``, fitted on a few
calibration archs measured end to end. The fit weighs relative errors, because the target is a
relative one (within +/-10 %) and small subnets would otherwise count for little.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from elasticvit.latency.measure import Measurement


class CalibrationPoint(BaseModel):
    """One arch measured end to end, next to what its blocks add up to in the table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch_id: str
    blocks: int = Field(ge=1)
    block_sum_ms: float = Field(gt=0.0, description="sum of the table medians of its blocks")
    measured: Measurement


class Correction(BaseModel):
    """``latency = scale * compute_ms + offset_ms`` where ``compute_ms`` is the overhead-free sum."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scale: float = Field(gt=0.0)
    offset_ms: float
    points: int = Field(ge=0, description="calibration archs the fit used")
    fit_within_10pct: float | None = Field(default=None, description="on the calibration archs")

    def apply(self, compute_ms: np.ndarray | float) -> np.ndarray | float:
        return self.scale * compute_ms + self.offset_ms


def fit_correction(
    points: list[CalibrationPoint], per_block_overhead_ms: float, call_overhead_ms: float
) -> Correction:
    """Fit scale and offset on calibration points (weighted least squares on relative error).

    With no points the correction only adds one call overhead back; with one point, or points
    whose block sums are all equal, only the scale is fitted.
    """
    if not points:
        return Correction(scale=1.0, offset_ms=call_overhead_ms, points=0)
    x = np.array([compute_ms(p.block_sum_ms, p.blocks, per_block_overhead_ms) for p in points])
    y = np.array([p.measured.median_ms for p in points])
    scale, offset = _fit_scale_offset(x, y) if np.ptp(x) > 0 else (0.0, 0.0)
    if scale <= 0.0:
        # Too few distinct points for two parameters, or a nonsensical slope: keep the physically
        # motivated offset (one call) and fit only the scale.
        offset = call_overhead_ms
        scale = float(np.median((y - offset) / x))
    if scale <= 0.0:
        scale, offset = 1.0, call_overhead_ms
    predicted = scale * x + offset
    within = float(np.mean(np.abs(predicted - y) <= 0.1 * y))
    return Correction(scale=scale, offset_ms=float(offset), points=len(points), fit_within_10pct=within)


def compute_ms(block_sum_ms: float, blocks: int, per_block_overhead_ms: float) -> float:
    """The block sum without the per-call overhead each separately timed block paid."""
    return block_sum_ms - blocks * per_block_overhead_ms


def _fit_scale_offset(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    # Dividing each row by y_i turns absolute residuals into relative ones.
    design = np.stack([x / y, 1.0 / y], axis=1)
    (scale, offset), *_ = np.linalg.lstsq(design, np.ones_like(y), rcond=None)
    return float(scale), float(offset)
