"""The per-device correction from a sum of block latencies to end-to-end latency.

Blocks are timed one at a time, each over and over with its weights and activations hot in cache,
so their sum misses what only a whole model shows:

- per-call overhead: a runtime such as ONNX Runtime charges a fixed cost per ``run`` (dispatch,
  input/output binding). A block timed alone pays it once per block, a model once in total. When
  the backend says so (``Backend.call_overhead_once``), the table subtracts a measured empty-model
  call from every block and the correction adds one back (the offset).
- size-proportional effects (the scale): in a model each block finds its weights evicted by the
  previous blocks' (slower), while inside one graph ONNX Runtime fuses across block boundaries and
  skips layout conversions between consecutive convolutions (faster).
- per-block effects (the per-block term, of either sign): hand-offs between blocks that a block
  timed alone does not see (e.g. waking the intra-op thread pool for each block with two threads),
  or a fixed cost each separately timed block pays that a model does not.

So ``measured ~= scale * compute + per_block * blocks + offset`` with ``compute`` the block sum
minus the subtracted call overheads, fitted on a few calibration archs measured end to end. The
fit weighs relative errors, because the target is relative (within +/-10 %) and small subnets
would otherwise count for little, and it leaves out calibration archs that no line fits (a
measurement some other job disturbed would otherwise tilt every prediction). With too few
calibration archs for three terms, the simpler models below are used instead.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from elasticvit.latency.measure import OUTLIER_SIGMAS, Measurement, Statistic

MIN_POINTS_TO_TRIM = 6
"""Fewer calibration archs than this say too little about the spread to call any an outlier."""
MIN_RELATIVE_RESIDUAL = 0.03
"""Relative misfit no calibration arch is left out for, however tight the others fit."""


class CalibrationPoint(BaseModel):
    """One arch measured end to end, next to what its blocks add up to in the table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch_id: str
    blocks: int = Field(ge=1)
    block_sum_ms: float = Field(gt=0.0, description="sum of the table entries of its blocks")
    measured: Measurement


class Correction(BaseModel):
    """``latency = scale * compute_ms + per_block_ms * blocks + offset_ms``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scale: float = Field(gt=0.0)
    per_block_ms: float = 0.0
    offset_ms: float
    points: int = Field(ge=0, description="calibration archs the fit used")
    discarded: int = Field(default=0, ge=0, description="calibration archs left out as outliers")
    fit_within_10pct: float | None = Field(default=None, description="on the calibration archs")
    loo_rel_error: float | None = Field(
        default=None, description="leave-one-out RMS relative error on the calibration archs"
    )

    def apply(self, compute_ms: np.ndarray | float, blocks: np.ndarray | int) -> np.ndarray | float:
        return self.scale * compute_ms + self.per_block_ms * blocks + self.offset_ms


def fit_correction(
    points: list[CalibrationPoint],
    per_block_overhead_ms: float,
    call_overhead_ms: float,
    statistic: Statistic = "median",
) -> Correction:
    """Fit the correction on calibration points by least squares on relative error.

    Of the two linear models (scale, per-block term and offset; scale and offset) the one with the
    lower leave-one-out error wins, so the per-block term is only kept where it predicts archs it
    was not fitted on better (it mostly does for eager PyTorch, hardly for ONNX Runtime). A model
    needs more points than terms; ties (too few points to cross-validate) go to the simpler one.
    With one point only the scale is fitted (the offset being one call overhead); with none, there
    is no correction beyond that call.
    """
    if not points:
        return Correction(scale=1.0, offset_ms=call_overhead_ms, points=0)
    x = np.array([compute_ms(p.block_sum_ms, p.blocks, per_block_overhead_ms) for p in points])
    n = np.array([p.blocks for p in points], dtype=np.float64)
    y = np.array([p.measured.value(statistic) for p in points])
    keep = _inliers(x, y)
    discarded = int(np.count_nonzero(~keep))
    x, n, y = x[keep], n[keep], y[keep]
    points = [p for p, k in zip(points, keep, strict=True) if k]
    ones = np.ones_like(x)
    candidates = []
    for columns in ([x, n, ones], [x, ones]):
        design = np.stack(columns, axis=1)
        coef = _relative_lstsq(design, y)
        if coef is not None and coef[0] > 0.0:
            candidates.append((_leave_one_out_error(design, y), len(coef), coef))
    if candidates:
        loo, terms, coef = min(candidates, key=lambda c: (c[0], c[1]))
        per_block = float(coef[1]) if terms == 3 else 0.0
        correction = Correction(scale=coef[0], per_block_ms=per_block, offset_ms=coef[-1], points=len(points),
                                discarded=discarded, loo_rel_error=loo if np.isfinite(loo) else None)
        return _with_fit(correction, x, n, y)
    # One point, or points whose block sums coincide: keep the physically motivated offset (one
    # call) and fit only the scale.
    scale = float(np.median((y - call_overhead_ms) / x))
    if scale <= 0.0:
        scale = 1.0
    return _with_fit(Correction(scale=scale, offset_ms=call_overhead_ms, points=len(points)), x, n, y)


def _inliers(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True for calibration points within a few robust deviations of a scale-and-offset line."""
    keep = np.ones_like(y, dtype=bool)
    if len(y) < MIN_POINTS_TO_TRIM:
        return keep
    design = np.stack([x, np.ones_like(x)], axis=1)
    coef = _relative_lstsq(design, y)
    if coef is None:
        return keep
    residual = (design @ coef - y) / y
    deviation = np.abs(residual - np.median(residual))
    sigma = 1.4826 * np.median(deviation)
    return deviation <= max(OUTLIER_SIGMAS * sigma, MIN_RELATIVE_RESIDUAL)


def compute_ms(block_sum_ms: float, blocks: int, per_block_overhead_ms: float) -> float:
    """The block sum without the per-call overhead each separately timed block paid."""
    return block_sum_ms - blocks * per_block_overhead_ms


def _relative_lstsq(design: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Coefficients minimising sum(((design @ c) - y) / y)^2, or None if not determined."""
    rows, cols = design.shape
    # More points than parameters (else the fit is exact and says nothing), and full rank.
    if rows <= cols or np.linalg.matrix_rank(design) < cols:
        return None
    # Dividing each row by y_i turns absolute residuals into relative ones.
    coef, *_ = np.linalg.lstsq(design / y[:, None], np.ones_like(y), rcond=None)
    return coef


def _leave_one_out_error(design: np.ndarray, y: np.ndarray) -> float:
    """Root mean squared relative error on each point of a fit to the others (inf if undetermined)."""
    errors = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        coef = _relative_lstsq(design[keep], y[keep])
        if coef is None:
            return float("inf")
        errors.append((design[i] @ coef - y[i]) / y[i])
    return float(np.sqrt(np.mean(np.square(errors))))


def _with_fit(c: Correction, x: np.ndarray, n: np.ndarray, y: np.ndarray) -> Correction:
    within = float(np.mean(np.abs(c.apply(x, n) - y) <= 0.1 * y))
    return c.model_copy(update={"fit_within_10pct": within})
