"""One device's search: every latency budget, the evaluated cloud, the Pareto front.

Budgets are searched one evolutionary run each, smallest first, all through the same accuracy
cache. Why not one run whose cloud serves every budget: a run under one hard constraint spends all
its evaluations where that budget's winner lives (the paper's setting), whereas a shared run would
need a multi-objective method to cover every budget equally. The cache recovers most of the sharing
anyway: each run starts from the best cached archs that meet its budget (measured for earlier
budgets or other devices), and an arch met twice is measured once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from elasticvit.config.experiment import SearchConfig
from elasticvit.errors import DamagedFileError
from elasticvit.search.cache import Evaluation, RankBy, score
from elasticvit.search.constraints import Constraint
from elasticvit.search.evaluator import AccuracyEvaluator
from elasticvit.search.evolution import ArchSpace, Screen, evolve
from elasticvit.search.outcome import Scored
from elasticvit.search.pareto import pareto_front
from elasticvit.search.predictor import AccuracyPredictor
from elasticvit.utils.atomic import write_text


class LatencyModel(Protocol):
    def predict(self, arch: Any) -> float: ...


class SearchSpaceLike(ArchSpace, Protocol):
    def smallest(self) -> Any: ...
    def largest(self) -> Any: ...


class RejectedCandidate(BaseModel):
    """A more accurate arch the table admitted but the device measured over the budget."""

    model_config = ConfigDict(frozen=True)

    arch_id: str
    val_accuracy: float
    val_loss: float | None = None
    predicted_ms: float
    measured_ms: float


class BudgetResult(BaseModel):
    """The arch chosen for one budget and what its search cost."""

    model_config = ConfigDict(frozen=True)

    budget_ms: float
    arch_id: str
    arch: dict[str, Any]
    predicted_ms: float
    measured_ms: float | None
    within_budget: bool | None = None
    """Whether ``measured_ms`` holds the budget; None when the chosen arch was not measured."""
    rejected: list[RejectedCandidate] = []
    """Candidates timed over the budget before this one, best ranked first."""
    val_accuracy: float
    val_loss: float | None = None
    """Mean cross-entropy on the val subset (None in results from before it was recorded)."""
    macs: int | None
    params: int | None
    evaluations: int
    """Distinct archs this budget's search scored (cached or measured)."""
    measured: int
    """Of those, how many had to be measured (not found in the cache)."""
    history: list[float]
    """The best score after each generation: val top-1, or minus the val cross-entropy (``rank_by``)."""
    search_s: float

    def describe(self) -> str:
        """One line for the search's log: the choice, its latencies and whether the budget held."""
        text = f"budget {self.budget_ms:.4g} ms: {self.arch_id} at {100 * self.val_accuracy:.1f} % val, " \
               f"predicted {self.predicted_ms:.3f} ms"
        if self.measured_ms is None:
            return text + ", not measured"
        text += f", measured {self.measured_ms:.3f} ms"
        if self.within_budget:
            text += " (holds)"
        else:
            text += f" (OVER the budget by {100 * (self.measured_ms / self.budget_ms - 1):.1f} %: no timed candidate held it)"
        if self.rejected:
            text += f"; {len(self.rejected)} more accurate candidate(s) measured over the budget were passed over"
        return text


class CloudPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    arch_id: str
    predicted_ms: float
    val_accuracy: float
    val_loss: float | None = None

    def score(self, rank_by: RankBy) -> float | None:
        return score(self.val_accuracy, self.val_loss, rank_by)


class DeviceSearchResult(BaseModel):
    """A device's chosen archs per budget, with every evaluated arch placed on this device."""

    model_config = ConfigDict(frozen=True)

    device: str
    supernet: str
    data: str
    budgets: list[BudgetResult]
    cloud: list[CloudPoint]
    """Every arch measured for this supernet and data (by any search), at this device's latency."""
    front: list[CloudPoint]
    """The cloud's Pareto front of latency and ``rank_by``'s score, fastest first: the archs the search
    would choose at some budget."""
    rank_by: RankBy = "accuracy"
    """What the archs were ranked by on val (results from before the choice existed ranked by accuracy)."""
    measured: int
    cache_hits: int
    search_s: float
    provenance: dict[str, str] = {}
    """Where the inputs came from (space, supernet, data version, table), filled by the stage."""

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_text(path, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DeviceSearchResult:
        path = Path(path)
        if not path.is_file():
            raise DamagedFileError(f"{path}: no search result; run `elasticvit search -d {path.parent.name}` first")
        try:
            return cls.model_validate_json(path.read_text())
        except ValidationError as exc:
            raise DamagedFileError(f"{path}: not a search result of this version ({exc.error_count()} error(s), "
                                   f"first: {exc.errors()[0]['msg']}); run the search again") from exc


class SearchCallback:
    """Progress out of the library; the orchestration layer overrides what it records."""

    def on_generation(self, budget_ms: float, generation: int, best_accuracy: float, evaluations: int) -> None:
        """After each generation of a budget's search."""

    def on_budget(self, result: BudgetResult) -> None:
        """Once a budget's arch is chosen (and measured, when a measure function is given)."""


def budget_range(
    predicted_ms: tuple[float, float], measured_ms: tuple[float, float] | None = None
) -> tuple[float, float]:
    """The (fastest, slowest) latencies that ``budget_fractions`` span on a device.

    With the smallest and largest subnets timed on the device (``measured_ms``) the range is what
    the device measures, since the table's sum of blocks can be low at the fast end; but the fast
    end never drops below the table's prediction for the smallest subnet, as the search admits an
    arch by its predicted latency and a budget under that admits none.
    """
    if measured_ms is None:
        return predicted_ms
    fastest = max(measured_ms[0], predicted_ms[0])
    return fastest, max(measured_ms[1], fastest)


def resolve_budgets(cfg: SearchConfig, device: str, fastest_ms: float, slowest_ms: float) -> list[float]:
    """The device's explicit budgets, else ``budget_fractions`` of the way from fastest to slowest."""
    if device in cfg.budgets_ms:
        return sorted(cfg.budgets_ms[device])
    return sorted(fastest_ms + f * (slowest_ms - fastest_ms) for f in cfg.budget_fractions)


def search_device(
    space: SearchSpaceLike,
    latency: LatencyModel,
    evaluator: AccuracyEvaluator,
    budgets_ms: Sequence[float],
    cfg: SearchConfig,
    rng: np.random.Generator,
    *,
    device: str,
    decode: Callable[[dict[str, Any]], Any],
    sample: Callable[[np.random.Generator], Any] | None = None,
    macs: Callable[[Any], int] | None = None,
    params: Callable[[Any], int] | None = None,
    measure: Callable[[Any], float] | None = None,
    callback: SearchCallback | None = None,
) -> DeviceSearchResult:
    """Search the best arch (by ``evaluator.rank_by``) under each budget on ``device``.

    ``latency`` predicts an arch's latency on the device (its table); ``decode`` turns a cached
    arch's JSON back into an arch; ``sample`` draws initial populations (the FLOPs pools);
    ``macs``/``params`` enforce ``cfg.max_macs``/``cfg.max_params`` and are reported;
    ``measure`` times a chosen arch on the device itself. Every budget is checked before any
    search starts: one the smallest subnet cannot meet raises ``InfeasibleBudgetError``.
    """
    callback = callback or SearchCallback()
    started = time.perf_counter()
    before = evaluator.stats.model_copy()
    constraints = [
        Constraint(b, latency.predict, cfg.max_macs, cfg.max_params, macs, params) for b in sorted(budgets_ms)
    ]
    for constraint in constraints:
        constraint.check_feasible(space.smallest(), device)
    results = []
    for constraint, budget_rng in zip(constraints, rng.spawn(len(constraints)), strict=True):
        result = _search_budget(space, latency, evaluator, constraint, cfg, budget_rng, decode, sample, macs, params, measure, callback)
        callback.on_budget(result)
        results.append(result)
    cloud = _cloud(evaluator, latency, decode)
    front = [cloud[i] for i in pareto_front([p.predicted_ms for p in cloud], [p.score(evaluator.rank_by) for p in cloud])]
    return DeviceSearchResult(
        device=device,
        supernet=evaluator.context.supernet,
        data=evaluator.context.data,
        budgets=results,
        cloud=cloud,
        front=front,
        measured=evaluator.stats.misses - before.misses,
        cache_hits=evaluator.stats.hits - before.hits,
        search_s=time.perf_counter() - started,
        rank_by=evaluator.rank_by,
    )


def _search_budget(
    space: SearchSpaceLike,
    latency: LatencyModel,
    evaluator: AccuracyEvaluator,
    constraint: Constraint,
    cfg: SearchConfig,
    rng: np.random.Generator,
    decode: Callable[[dict[str, Any]], Any],
    sample: Callable[[np.random.Generator], Any] | None,
    macs: Callable[[Any], int] | None,
    params: Callable[[Any], int] | None,
    measure: Callable[[Any], float] | None,
    callback: SearchCallback,
) -> BudgetResult:
    started = time.perf_counter()
    misses = evaluator.stats.misses
    cached = evaluator.cached()
    # The smallest subnet goes in last: it always meets a feasible budget, so even a budget so tight
    # that random draws almost never fit has a valid population to evolve from.
    seeds = _warm_start(cached, constraint, decode, int(cfg.warm_start_fraction * cfg.population), evaluator.rank_by)
    seeds.append(space.smallest())
    outcome = evolve(
        space,
        evaluator,
        constraint.admits,
        cfg,
        rng,
        sample=sample,
        seeds=seeds,
        screen=_screen(cached, cfg, evaluator),
        on_generation=lambda g, best, n: callback.on_generation(
            constraint.budget_ms, g, evaluator.lookup(best.arch).accuracy, n),
    )
    if measure is None:
        chosen, measured_ms, rejected = outcome.best, None, []
    else:
        chosen, measured_ms, rejected = confirm_within_budget(
            outcome.scored, constraint.budget_ms, latency.predict, measure, cfg.confirm_candidates, evaluator.lookup)
    arch = chosen.arch
    evaluation = evaluator.lookup(arch)
    return BudgetResult(
        budget_ms=constraint.budget_ms,
        arch_id=arch.id,
        arch=evaluator.encode(arch),
        predicted_ms=latency.predict(arch),
        measured_ms=measured_ms,
        within_budget=None if measured_ms is None else measured_ms <= constraint.budget_ms,
        rejected=rejected,
        val_accuracy=evaluation.accuracy,
        val_loss=evaluation.loss,
        macs=macs(arch) if macs is not None else None,
        params=params(arch) if params is not None else None,
        evaluations=outcome.evaluations,
        measured=evaluator.stats.misses - misses,
        history=list(outcome.history),
        search_s=time.perf_counter() - started,
    )


def confirm_within_budget(
    scored: Sequence[Scored], budget_ms: float, predict: Callable[[Any], float], measure: Callable[[Any], float],
    tries: int, evaluation: Callable[[Any], Evaluation],
) -> tuple[Scored, float, list[RejectedCandidate]]:
    """The best scored arch whose latency, timed on the device, holds ``budget_ms``.

    The table's prediction can be low for a whole family of archs (the fusions and overheads a sum
    of blocks misses), so after a miss the prediction of every later candidate is scaled by the
    worst measured/predicted ratio seen and those that cannot fit are not timed. At most ``tries``
    archs are timed; if none holds, the fastest of them is returned (its result says so).
    """
    ratio, timed, rejected = 1.0, [], []
    for candidate in sorted(scored, key=lambda s: (-s.score, s.arch.id)):
        if len(timed) >= tries:
            break
        predicted = predict(candidate.arch)
        if predicted * ratio > budget_ms:
            continue
        measured = measure(candidate.arch)
        if measured <= budget_ms:
            return candidate, measured, rejected
        timed.append((measured, candidate))
        found = evaluation(candidate.arch)
        rejected.append(RejectedCandidate(arch_id=candidate.arch.id, val_accuracy=found.accuracy, val_loss=found.loss,
                                          predicted_ms=predicted, measured_ms=measured))
        ratio = max(ratio, measured / predicted)
    measured, fastest = min(timed, key=lambda t: (t[0], t[1].arch.id))
    return fastest, measured, [r for r in rejected if r.arch_id != fastest.arch.id]


def _warm_start(
    cached: list[Evaluation], constraint: Constraint, decode: Callable[[dict[str, Any]], Any], n: int, rank_by: RankBy
) -> list[Any]:
    """The ``n`` best cached archs (by ``rank_by``) that meet the constraint."""
    chosen: list[Any] = []
    for evaluation in sorted(cached, key=lambda e: (-e.score(rank_by), e.arch_id)):  # type: ignore[operator]
        if len(chosen) >= n:
            break
        arch = decode(evaluation.arch)
        if constraint.admits(arch):
            chosen.append(arch)
    return chosen


def _screen(cached: list[Evaluation], cfg: SearchConfig, evaluator: AccuracyEvaluator) -> Screen | None:
    """A predictor fitted on the cache, once it holds enough points and screening is on."""
    if cfg.predictor_screen <= 1 or len(cached) < cfg.predictor_min_points:
        return None
    predictor = AccuracyPredictor.fit(
        [e.arch_id for e in cached], [e.arch for e in cached], [e.score(evaluator.rank_by) for e in cached], seed=cfg.seed
    )
    return lambda archs: predictor.estimate([a.id for a in archs], [evaluator.encode(a) for a in archs])


def _cloud(evaluator: AccuracyEvaluator, latency: LatencyModel, decode: Callable[[dict[str, Any]], Any]) -> list[CloudPoint]:
    return [
        CloudPoint(arch_id=e.arch_id, predicted_ms=latency.predict(decode(e.arch)), val_accuracy=e.accuracy, val_loss=e.loss)
        for e in evaluator.cached()
    ]
