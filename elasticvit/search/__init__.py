"""Per-device subnet search: evolutionary and random search under latency budgets, an accuracy cache
shared across devices, Pareto fronts. See docs/search.md."""

from elasticvit.search.cache import CacheContext, Evaluation, EvaluationCache
from elasticvit.search.constraints import Constraint, InfeasibleBudgetError
from elasticvit.search.driver import (
    BudgetResult,
    CloudPoint,
    DeviceSearchResult,
    SearchCallback,
    budget_range,
    resolve_budgets,
    search_device,
)
from elasticvit.search.evaluator import AccuracyEvaluator, EvaluatorStats, Scorer
from elasticvit.search.evolution import SearchError, evolve
from elasticvit.search.outcome import Scored, SearchOutcome
from elasticvit.search.pareto import pareto_front
from elasticvit.search.plots import plot_front
from elasticvit.search.predictor import AccuracyPredictor
from elasticvit.search.random_search import random_search

__all__ = [
    "AccuracyEvaluator",
    "AccuracyPredictor",
    "BudgetResult",
    "CacheContext",
    "CloudPoint",
    "Constraint",
    "DeviceSearchResult",
    "Evaluation",
    "EvaluationCache",
    "EvaluatorStats",
    "InfeasibleBudgetError",
    "Scored",
    "SearchCallback",
    "Scorer",
    "SearchError",
    "SearchOutcome",
    "evolve",
    "pareto_front",
    "plot_front",
    "random_search",
    "budget_range",
    "resolve_budgets",
    "search_device",
]
