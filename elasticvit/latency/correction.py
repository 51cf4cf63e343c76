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
- memory traffic (the activation term): a block timed alone finds its input in cache and leaves
  its output there; in a model each block's activations travel through memory to the next, and a
  fusing runtime skips some of that traffic inside one graph. So the cost of an arch's blocks
  depends on the size of their inputs and outputs (``BlockSpec.activations_m``) beyond what
  their timings alone say. In one quiet run of ONNX Runtime on the ``cifar`` space, the block sum
  and kind-group scales explained end-to-end latency for at most 85 % of subnets within +/-10 %,
  a term per kind group proportional to the activations for 94 % (later runs chose other models;
  docs/latency.md).
- input resolution (the resolution term): the same blocks at a smaller input resolution run on
  smaller tensors, where a fusing runtime's savings and a block's fixed costs weigh differently
  against the work. In one steady ONNX Runtime validation the scale-and-per-block model predicted
  the resolution-24 subnets 3.5 % low on average and those at 28 and 32 1-2 % high. So a model may
  let the scale change linearly with resolution, around the calibration archs' median resolution
  (``reference_resolution``). Run 6's fit did not choose it; run 7's did, 6 points over the same
  model without it on validation (docs/latency.md).

A fusing runtime need not treat every block kind alike: its attention and its convolutions are
different operators with different fusions and layouts. So besides the whole-sum models
(``scale * compute + [per_block * blocks] + offset``, ``compute`` the block sum minus the
subtracted call overheads) there are kind-group models, where the transformer blocks and the
convolution blocks each get their own scale (and per-block term), and activation models, where
each kind group adds a cost per million activation elements. The first conv, stem and head
get no group of their own: every arch runs exactly one of each, so their sums are nearly
collinear with the offset.

All models are fitted on the calibration archs measured end to end, by least squares on relative
error (the target is relative, within +/-10 %, and small subnets would otherwise count for little),
each arch weighted by the precision of its measurement (a disturbed one reads with a wide spread),
after leaving out archs that no line fits. The simplest model whose leave-one-out error is within
``MODEL_MARGIN`` of the lowest wins, so a richer model is only used where it predicts archs it was
not fitted on clearly better (with 30 calibration archs, a few per cent of leave-one-out error is
chance: picking the lowest outright chose a kind-group model that did worse on validation).
"""

from __future__ import annotations

from typing import get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from elasticvit.latency.measure import OUTLIER_SIGMAS, Measurement, Statistic
from elasticvit.space.specs import BlockKind, BlockSpec

KINDS: tuple[str, ...] = get_args(BlockKind)
"""The order of the per-kind features (``features``): overhead-free compute, then block counts."""
OWN_SCALE_KINDS = ("transformer",)
"""The kinds a kind-group model scales apart from the others (the convolution blocks)."""
MIN_POINTS_TO_TRIM = 6
"""Fewer calibration archs than this say too little about the spread to call any an outlier."""
MIN_RELATIVE_RESIDUAL = 0.03
"""Relative misfit no calibration arch is left out for, however tight the others fit."""
CV_FLOOR = 0.05
"""The spread below which a calibration arch counts as precisely measured: quiet single-thread
measurements read at cv 0.015-0.05, disturbed ones at 0.15-0.3; weights are 1 / max(cv, this), so
only disturbed archs weigh less (weighting quiet ones apart by their cv let a few archs with cv
0.013 outweigh the rest 25 to 1 in the leave-one-out error)."""
MODEL_MARGIN = 0.05
"""Relative leave-one-out error by which a richer model must beat a simpler one to be chosen."""
POINTS_PER_KIND_TERM = 4
"""Calibration archs a kind-group model needs per term: its two scales trade off (a bigger subnet
has more of both kinds), so with fewer archs its leave-one-out error flatters it by chance."""


class KindShare(BaseModel):
    """What the blocks of one kind in an arch add up to in the table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    blocks: int = Field(ge=1)
    block_sum_ms: float = Field(ge=0.0)
    activations_m: float = Field(
        default=0.0, ge=0.0, description="input plus output elements of its blocks, in millions (0.0 in "
        "tables collected before activation models: refitting fills it in)"
    )


class CalibrationPoint(BaseModel):
    """One arch measured end to end, next to what its blocks add up to in the table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch_id: str
    blocks: int = Field(ge=1)
    block_sum_ms: float = Field(gt=0.0, description="sum of the table entries of its blocks")
    by_kind: dict[str, KindShare] = Field(
        default_factory=dict, description="the same per block kind (empty in tables collected before "
        "kind-group models: they fit the whole-sum models only until refitted)"
    )
    measured: Measurement
    resolution: int | None = Field(
        default=None, ge=1, description="the arch's input resolution (None in tables collected before "
        "resolution models: refitting fills it in)"
    )


class Correction(BaseModel):
    """``latency = sum_b ((scale[kind_b] + resolution_scale * (resolution - reference_resolution)) *
    compute_b + per_block_ms[kind_b] + activation_ms[kind_b] * activations_b) + offset_ms``.

    A kind without an entry in ``kind_scale`` / ``kind_per_block_ms`` / ``kind_activation_ms`` takes
    ``scale`` / ``per_block_ms`` / ``activation_ms``, so a whole-sum model leaves the dicts empty
    (tables collected before kind-group models read as such).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    scale: float = Field(gt=0.0)
    per_block_ms: float = 0.0
    offset_ms: float
    kind_scale: dict[str, float] = Field(default_factory=dict, description="kinds with their own scale")
    kind_per_block_ms: dict[str, float] = Field(default_factory=dict, description="kinds with their own per-block term")
    activation_ms: float = Field(default=0.0, description="ms per million activation elements")
    kind_activation_ms: dict[str, float] = Field(default_factory=dict, description="kinds with their own activation term")
    resolution_scale: float = Field(default=0.0, description="change of every kind's scale per pixel of input "
                                    "resolution above reference_resolution")
    reference_resolution: int = Field(default=0, ge=0, description="the resolution the scales hold at (0: no "
                                      "resolution term)")
    points: int = Field(ge=0, description="calibration archs the fit used")
    discarded: int = Field(default=0, ge=0, description="calibration archs left out as outliers")
    fit_within_10pct: float | None = Field(default=None, description="on the calibration archs")
    loo_rel_error: float | None = Field(
        default=None, description="leave-one-out RMS relative error on the calibration archs (weighted)"
    )

    @property
    def model(self) -> str:
        """Which terms the fit chose, e.g. ``scale per kind group + per block + offset``."""
        terms = ["scale per kind group" if self.kind_scale else "scale"]
        if self.kind_per_block_ms or self.per_block_ms:
            terms.append("per block")
        if self.kind_activation_ms:
            terms.append("activation per kind group")
        elif self.activation_ms:
            terms.append("activation")
        if self.resolution_scale:
            terms.append("resolution")
        return " + ".join([*terms, "offset"])

    def block_share(self, kind: str, compute_ms: float, activations_m: float = 0.0, resolution: int = 0) -> float:
        """One block's part of a prediction (``compute_ms``: its entry less the subtracted overhead;
        ``activations_m``: its ``BlockSpec.activations_m``; ``resolution``: the arch's)."""
        scale = self.kind_scale.get(kind, self.scale) + self._resolution_shift(np.float64(resolution))
        return float(scale * compute_ms + self.kind_per_block_ms.get(kind, self.per_block_ms)
                     + self.kind_activation_ms.get(kind, self.activation_ms) * activations_m)

    def apply(self, features: np.ndarray) -> np.ndarray:
        """Predicted latencies (ms) from ``features`` rows (see ``features``)."""
        scales = [self.kind_scale.get(k, self.scale) for k in KINDS]
        per_block = [self.kind_per_block_ms.get(k, self.per_block_ms) for k in KINDS]
        activation = [self.kind_activation_ms.get(k, self.activation_ms) for k in KINDS]
        n = len(KINDS)
        shift = self._resolution_shift(features[..., 3 * n]) * features[..., :n].sum(axis=-1)
        return features[..., : 3 * n] @ np.array(scales + per_block + activation) + shift + self.offset_ms

    def _resolution_shift(self, resolution: np.ndarray) -> np.ndarray:
        """The change of the scale at ``resolution`` (nothing without a resolution term)."""
        if not self.resolution_scale:
            return np.zeros_like(resolution, dtype=np.float64)
        if np.any(resolution <= 0):
            raise ValueError("this correction has a resolution term: predictions need the arch's input resolution")
        return self.resolution_scale * (resolution - self.reference_resolution)


def features(by_kind: dict[str, KindShare], per_block_overhead_ms: float, resolution: int = 0) -> np.ndarray:
    """Overhead-free compute (ms) per kind in ``KINDS`` order, then block counts, then activations,
    then the input resolution (0: unknown)."""
    shares = [by_kind.get(k) for k in KINDS]
    compute = [compute_ms(s.block_sum_ms, s.blocks, per_block_overhead_ms) if s else 0.0 for s in shares]
    blocks = [s.blocks if s else 0 for s in shares]
    activations = [s.activations_m if s else 0.0 for s in shares]
    return np.array([*compute, *blocks, *activations, resolution], dtype=np.float64)


def kind_shares(blocks: list[BlockSpec], latencies_ms: list[float]) -> dict[str, KindShare]:
    """Block counts, latency sums and activation sums per kind of an arch's blocks."""
    rows = list(zip(blocks, latencies_ms, strict=True))
    return {
        kind: KindShare(
            blocks=sum(1 for b in blocks if b.kind == kind),
            block_sum_ms=sum(t for b, t in rows if b.kind == kind),
            activations_m=sum(b.activations_m for b in blocks if b.kind == kind),
        )
        for kind in dict.fromkeys(b.kind for b in blocks)
    }


def compute_ms(block_sum_ms: float, blocks: int, per_block_overhead_ms: float) -> float:
    """The block sum without the per-call overhead each separately timed block paid."""
    return block_sum_ms - blocks * per_block_overhead_ms


def fit_correction(
    points: list[CalibrationPoint],
    per_block_overhead_ms: float,
    call_overhead_ms: float,
    statistic: Statistic = "median",
    margin: float = MODEL_MARGIN,
) -> Correction:
    """Fit the correction on calibration points by weighted least squares on relative error.

    Of the candidate models (``_MODELS``: scale and offset; with a per-block term; a scale per kind
    group, with and without per-block terms; scale and offset with an activation term per kind
    group; the first two with a resolution term) the simplest whose leave-one-out error is within
    ``margin`` of the lowest wins (all of them, with too few points to cross-validate). A model
    needs more points than terms and positive scales, a kind-group model ``POINTS_PER_KIND_TERM``
    points per term and per-kind sums on every point, an activation model the activations on every
    point, a resolution model the resolution of every point and more than one resolution among them. With one point only the
    scale is fitted (the offset being one call overhead); with none, there is no correction beyond
    that call.
    """
    if not points:
        return Correction(scale=1.0, offset_ms=call_overhead_ms, points=0)
    f = np.array([_point_features(p, per_block_overhead_ms) for p in points])
    y = np.array([p.measured.value(statistic) for p in points])
    w = 1.0 / np.maximum([p.measured.cv for p in points], CV_FLOOR)
    keep = _inliers(f, y, w)
    f, y, w = f[keep], y[keep], w[keep]
    kept = [p for p, k in zip(points, keep, strict=True) if k]
    split = all(p.by_kind for p in kept)
    activations = split and all(s.activations_m > 0.0 for p in kept for s in p.by_kind.values())
    resolutions = [p.resolution for p in kept]
    reference = int(np.median(resolutions)) if None not in resolutions else 0  # type: ignore[arg-type]
    fitted = dict(points=len(y), discarded=int(np.count_nonzero(~keep)))
    candidates = []
    for model in _MODELS:
        groups, _, act_groups, by_resolution = model
        design = _design(f, model, reference)
        terms = design.shape[1]
        grouped = len(groups) > 1 or len(act_groups) > 1
        if (act_groups and not activations) or (grouped and (not split or len(y) < POINTS_PER_KIND_TERM * terms)):
            continue
        # A resolution model needs every point's resolution; with one resolution among them its
        # column is zero and _relative_lstsq finds the rank short.
        if by_resolution and not reference:
            continue
        coef = _relative_lstsq(design, y, w)
        if coef is not None and np.all(coef[: len(groups)] > 0.0):
            candidates.append((_leave_one_out_error(design, y, w), terms, model, coef))
    if candidates:
        best = min(c[0] for c in candidates)
        # Candidates are in _MODELS order, simplest first; the first within the margin wins.
        loo, _, model, coef = next(c for c in candidates if not c[0] > best * (1.0 + margin))
        correction = _correction(model, coef, reference, loo_rel_error=loo if np.isfinite(loo) else None, **fitted)
        return _with_fit(correction, f, y)
    # One point, or points whose block sums coincide: keep the physically motivated offset (one
    # call) and fit only the scale.
    scale = float(np.median((y - call_overhead_ms) / f[:, : len(KINDS)].sum(axis=1)))
    if scale <= 0.0:
        scale = 1.0
    return _with_fit(Correction(scale=scale, offset_ms=call_overhead_ms, **fitted), f, y)


Groups = tuple[tuple[str, ...], ...]
_ALL: Groups = (KINDS,)
_SPLIT: Groups = (OWN_SCALE_KINDS, tuple(k for k in KINDS if k not in OWN_SCALE_KINDS))
Model = tuple[Groups, bool, Groups, bool]
_MODELS: tuple[Model, ...] = (
    (_ALL, False, (), False), (_ALL, True, (), False), (_SPLIT, False, (), False), (_ALL, False, (), True),
    (_ALL, False, _SPLIT, False), (_ALL, True, (), True), (_SPLIT, True, (), False),
)
"""Candidate models, simplest first: the kind groups with their own scale, whether each group has a
per-block term, the kind groups with their own activation term (none: no activation term), and
whether the scale changes with resolution."""


def _point_features(p: CalibrationPoint, per_block_overhead_ms: float) -> np.ndarray:
    # A point without per-kind sums is all in one kind; the kind-group models then skip the fit.
    by_kind = p.by_kind or {KINDS[0]: KindShare(blocks=p.blocks, block_sum_ms=p.block_sum_ms)}
    return features(by_kind, per_block_overhead_ms, p.resolution or 0)


def _design(f: np.ndarray, model: Model, reference_resolution: int) -> np.ndarray:
    """Columns: compute per group, [blocks per group], [activations per activation group], [compute
    times resolution above the reference], ones."""
    groups, per_block, act_groups, by_resolution = model
    n = len(KINDS)

    def summed(offset: int, gs: Groups) -> list[np.ndarray]:
        return [f[:, [offset + KINDS.index(k) for k in g]].sum(axis=1) for g in gs]

    resolution = [f[:, :n].sum(axis=1) * (f[:, 3 * n] - reference_resolution)] if by_resolution else []
    return np.stack([*summed(0, groups), *(summed(n, groups) if per_block else []), *summed(2 * n, act_groups),
                     *resolution, np.ones(len(f))], axis=1)


def _correction(model: Model, coef: np.ndarray, reference_resolution: int, **fields: object) -> Correction:
    """The coefficients of ``_design``'s columns as a correction: each last group's are the defaults."""
    groups, per_block, act_groups, by_resolution = model
    n, m, r = len(groups), len(act_groups), int(by_resolution)
    scales = [float(c) for c in coef[:n]]
    blocks = [float(c) for c in coef[n : 2 * n]] if per_block else [0.0] * n
    acts = [float(c) for c in coef[len(coef) - 1 - r - m : len(coef) - 1 - r]]

    def by_kind(gs: Groups, values: list[float]) -> dict[str, float]:
        return {k: v for g, v in zip(gs[:-1], values[:-1], strict=True) for k in g}

    return Correction(
        scale=scales[-1], per_block_ms=blocks[-1], offset_ms=float(coef[-1]),
        activation_ms=acts[-1] if acts else 0.0,
        kind_scale=by_kind(groups, scales),
        kind_per_block_ms=by_kind(groups, blocks) if per_block else {},
        kind_activation_ms=by_kind(act_groups, acts),
        resolution_scale=float(coef[-2]) if by_resolution else 0.0,
        reference_resolution=reference_resolution if by_resolution else 0,
        **fields,  # type: ignore[arg-type]
    )


def _inliers(f: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """True for calibration points within a few robust deviations of a scale-and-offset line."""
    keep = np.ones_like(y, dtype=bool)
    if len(y) < MIN_POINTS_TO_TRIM:
        return keep
    design = _design(f, _MODELS[0], 0)
    coef = _relative_lstsq(design, y, w)
    if coef is None:
        return keep
    residual = (design @ coef - y) / y
    deviation = np.abs(residual - np.median(residual))
    sigma = 1.4826 * np.median(deviation)
    return deviation <= max(OUTLIER_SIGMAS * sigma, MIN_RELATIVE_RESIDUAL)


def _relative_lstsq(design: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray | None:
    """Coefficients minimising sum(w^2 ((design @ c) - y) / y)^2), or None if not determined."""
    rows, cols = design.shape
    # More points than parameters (else the fit is exact and says nothing), and full rank.
    if rows <= cols or np.linalg.matrix_rank(design) < cols:
        return None
    # Dividing each row by y_i turns absolute residuals into relative ones.
    scale = (w / y)[:, None]
    coef, *_ = np.linalg.lstsq(design * scale, w, rcond=None)
    return coef


def _leave_one_out_error(design: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Weighted RMS relative error on each point of a fit to the others (inf if undetermined)."""
    errors = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        coef = _relative_lstsq(design[keep], y[keep], w[keep])
        if coef is None:
            return float("inf")
        errors.append((design[i] @ coef - y[i]) / y[i])
    return float(np.sqrt(np.average(np.square(errors), weights=np.square(w))))


def _with_fit(c: Correction, f: np.ndarray, y: np.ndarray) -> Correction:
    within = float(np.mean(np.abs(c.apply(f) - y) <= 0.1 * y))
    return c.model_copy(update={"fit_within_10pct": within})
