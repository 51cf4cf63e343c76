"""A device's search on the stand-in space: budgets, cache reuse across devices, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from elasticvit.config import SearchConfig
from elasticvit.search.cache import CacheContext, Evaluation, EvaluationCache
from elasticvit.search.constraints import InfeasibleBudgetError
from elasticvit.search.driver import (
    DeviceSearchResult,
    SearchCallback,
    confirm_within_budget,
    budget_range,
    resolve_budgets,
    search_device,
)
from elasticvit.search.evaluator import AccuracyEvaluator
from elasticvit.search.outcome import Scored
from elasticvit.search.plots import plot_front
from tests.test_search_toy import ToyArch, ToyScorer, ToySpace, accuracy, latency, loss

CFG = SearchConfig(population=12, generations=5, parents=4, mutations=6, crossovers=6)


class Table:
    """A device: a latency per gene position."""

    def __init__(self, weights: list[float]) -> None:
        self.weights = np.array(weights)

    def predict(self, arch: ToyArch) -> float:
        return float(self.weights @ np.array(arch.genes))


DEVICE_A = Table([1.0] * 6)
DEVICE_B = Table([1.3, 0.8, 1.1, 0.9, 1.2, 0.7])


def _search(path: Path, table: Table, budgets: list[float], device: str, cfg: SearchConfig = CFG, rank_by="accuracy", **kw):
    scorer = ToyScorer()
    evaluator = AccuracyEvaluator(scorer, EvaluationCache(path / "cache.sqlite"), CacheContext(supernet="s", data="d"),
                                  rank_by=rank_by)
    result = search_device(ToySpace(), table, evaluator, budgets, cfg, np.random.default_rng(0),
                           device=device, decode=ToyArch.model_validate, **kw)
    return result, scorer


def test_chosen_archs_meet_their_budgets_and_the_bounds(tmp_path: Path) -> None:
    result, _ = _search(tmp_path, DEVICE_A, [14.0, 10.0], "a", CFG.model_copy(update={"max_macs": 3}),
                        macs=lambda a: a.genes[0], params=lambda a: sum(a.genes))
    assert [b.budget_ms for b in result.budgets] == [10.0, 14.0]
    for b in result.budgets:
        arch = ToyArch.model_validate(b.arch)
        assert b.predicted_ms == latency(arch) <= b.budget_ms and arch.genes[0] <= 3
        assert b.macs == arch.genes[0] and b.params == sum(arch.genes)
    assert result.budgets[0].val_accuracy <= result.budgets[1].val_accuracy


def test_second_device_reuses_the_first_devices_accuracies(tmp_path: Path) -> None:
    first, first_scorer = _search(tmp_path, DEVICE_A, [10.0, 14.0], "a")
    second, second_scorer = _search(tmp_path, DEVICE_B, [10.0, 14.0], "b")
    assert first.measured == first_scorer.calls > 0
    assert second.cache_hits > 0
    assert second_scorer.calls == second.measured < first.measured
    # the cloud is every cached accuracy, placed at this device's latency
    assert len(second.cloud) == first.measured + second.measured
    by_id = {p.arch_id: p for p in second.cloud}
    some = ToyArch.model_validate(first.budgets[0].arch)
    assert by_id[some.id].predicted_ms == pytest.approx(DEVICE_B.predict(some))


def test_front_is_non_dominated_and_contains_the_chosen_archs(tmp_path: Path) -> None:
    result, _ = _search(tmp_path, DEVICE_A, [9.0, 12.0, 16.0], "a")
    front = result.front
    assert [p.predicted_ms for p in front] == sorted(p.predicted_ms for p in front)
    assert [p.val_accuracy for p in front] == sorted(p.val_accuracy for p in front)
    best_under = {b.budget_ms: max(p.val_accuracy for p in front if p.predicted_ms <= b.budget_ms) for b in result.budgets}
    assert all(b.val_accuracy == best_under[b.budget_ms] for b in result.budgets)


def test_ranking_by_loss_chooses_and_fronts_by_the_lowest_loss(tmp_path: Path) -> None:
    budgets = [9.0, 12.0, 16.0]
    by_loss, _ = _search(tmp_path / "l", DEVICE_A, budgets, "a", rank_by="loss")
    by_accuracy, _ = _search(tmp_path / "a", DEVICE_A, budgets, "a")
    assert (by_loss.rank_by, by_accuracy.rank_by) == ("loss", "accuracy")
    front = by_loss.front
    assert [p.val_loss for p in front] == sorted((p.val_loss for p in front), reverse=True)
    for b in by_loss.budgets:
        assert b.val_loss == min(p.val_loss for p in front if p.predicted_ms <= b.budget_ms)
        assert b.val_loss == loss(ToyArch.model_validate(b.arch)) and b.val_accuracy == accuracy(ToyArch.model_validate(b.arch))
    # the toy's loss and accuracy disagree: the objective decides what is chosen
    assert [b.arch_id for b in by_loss.budgets] != [b.arch_id for b in by_accuracy.budgets]


def test_impossible_budget_fails_before_any_measurement(tmp_path: Path) -> None:
    with pytest.raises(InfeasibleBudgetError, match=r"device 'b'.*smallest achievable latency") as info:
        _search(tmp_path, DEVICE_B, [12.0, 5.0], "b")
    assert f"{DEVICE_B.predict(ToySpace().smallest()):.4f} ms" in str(info.value)
    assert len(EvaluationCache(tmp_path / "cache.sqlite")) == 0


def test_callback_sees_every_generation_and_budget(tmp_path: Path) -> None:
    class Record(SearchCallback):
        def __init__(self) -> None:
            self.generations: list[tuple[float, int]] = []
            self.budgets: list[float] = []

        def on_generation(self, budget_ms, generation, best_accuracy, evaluations) -> None:
            self.generations.append((budget_ms, generation))

        def on_budget(self, result) -> None:
            self.budgets.append(result.budget_ms)

    record = Record()
    _search(tmp_path, DEVICE_A, [10.0, 14.0], "a", callback=record, measure=lambda a: 1.0)
    assert record.budgets == [10.0, 14.0]
    assert record.generations == [(b, g) for b in (10.0, 14.0) for g in range(CFG.generations + 1)]


def test_result_round_trips_and_plots(tmp_path: Path) -> None:
    result, _ = _search(tmp_path, DEVICE_A, [12.0], "a", measure=lambda a: 0.5 * latency(a))
    assert result.budgets[0].measured_ms == pytest.approx(0.5 * result.budgets[0].predicted_ms)
    assert DeviceSearchResult.load(result.save(tmp_path / "r.json")) == result
    png = plot_front(result, tmp_path / "front.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_result_from_before_the_ranking_choice_loads_as_ranked_by_accuracy(tmp_path: Path) -> None:
    result, _ = _search(tmp_path, DEVICE_A, [12.0], "a")
    old = json.loads(result.model_dump_json())
    del old["rank_by"]
    for point in old["cloud"] + old["front"] + old["budgets"]:
        del point["val_loss"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    loaded = DeviceSearchResult.load(tmp_path / "old.json")
    assert loaded.rank_by == "accuracy" and loaded.budgets[0].val_loss is None
    assert loaded.front[0].score("accuracy") == loaded.front[0].val_accuracy and loaded.front[0].score("loss") is None


def test_screening_with_a_predictor_fitted_on_the_cache(tmp_path: Path) -> None:
    _search(tmp_path, DEVICE_A, [10.0, 14.0], "a")
    cfg = CFG.model_copy(update={"predictor_screen": 3, "predictor_min_points": 20})
    result, _ = _search(tmp_path, DEVICE_B, [12.0], "b", cfg)
    assert result.budgets[0].predicted_ms <= 12.0


def test_budgets_explicit_or_fractions() -> None:
    cfg = SearchConfig(budgets_ms={"a": [3.0, 1.0]}, budget_fractions=[0.5, 0.0, 1.0])
    assert resolve_budgets(cfg, "a", 1.0, 5.0) == [1.0, 3.0]
    assert resolve_budgets(cfg, "b", 1.0, 5.0) == [1.0, 3.0, 5.0]


def test_fractions_span_the_measured_range_but_never_under_the_predicted_smallest() -> None:
    assert budget_range((1.0, 4.0)) == (1.0, 4.0)
    # the table under-predicts the fast end: fractions span what the device measures
    assert budget_range((1.0, 4.0), (1.5, 6.0)) == (1.5, 6.0)
    # the device is faster than the table's smallest: a budget under it would admit no arch
    assert budget_range((1.0, 4.0), (0.8, 3.0)) == (1.0, 3.0)
    assert budget_range((1.0, 4.0), (0.5, 0.9)) == (1.0, 1.0)


def test_a_chosen_arch_measured_over_its_budget_gives_way_to_one_that_holds(tmp_path: Path) -> None:
    # the device runs archs with a heavy first gene 30 % slower than the table predicts
    def measure(a: ToyArch) -> float:
        return latency(a) * (1.3 if a.genes[0] >= 2 else 1.0)

    unconfirmed, _ = _search(tmp_path / "u", DEVICE_A, [12.0], "a")
    result, _ = _search(tmp_path / "c", DEVICE_A, [12.0], "a", measure=measure)
    best, chosen = unconfirmed.budgets[0], result.budgets[0]
    assert measure(ToyArch.model_validate(best.arch)) > 12.0  # the table's winner does not hold
    assert chosen.within_budget is True and chosen.measured_ms <= 12.0
    assert chosen.measured_ms == pytest.approx(measure(ToyArch.model_validate(chosen.arch)))
    assert chosen.rejected and chosen.rejected[0].arch_id == best.arch_id
    assert all(r.measured_ms > 12.0 and r.val_accuracy >= chosen.val_accuracy for r in chosen.rejected)


def test_no_candidate_holding_the_budget_is_reported_not_hidden() -> None:
    scored = [Scored(ToyArch(genes=[g, 1, 1, 1, 1, 1]), score=0.1 * g) for g in range(1, 6)]
    timed: list[str] = []

    def stored(a: ToyArch) -> Evaluation:
        return Evaluation(arch_id=a.id, accuracy=0.1 * a.genes[0], samples=1, seconds=0.0, arch={})

    def measure(a: ToyArch) -> float:
        timed.append(a.id)
        return 3 * latency(a)

    chosen, measured, rejected = confirm_within_budget(scored, 10.0, latency, measure, tries=3, evaluation=stored)
    # after the first miss (3x), nothing else can fit once scaled: one timing, and it is returned
    assert timed == [scored[-1].arch.id] and chosen is scored[-1] and measured == 3 * latency(chosen.arch)
    assert rejected == []
    timed.clear()
    chosen, measured, rejected = confirm_within_budget(scored, 10.0, latency, lambda a: timed.append(a.id) or 10.4 + 0.01 * a.genes[0],
                                                     tries=3, evaluation=stored)
    # a small overshoot for all: the three most accurate are timed, the fastest of them comes back
    assert len(timed) == 3 and chosen is scored[2] and measured == pytest.approx(10.43)
    assert [r.arch_id for r in rejected] == [scored[4].arch.id, scored[3].arch.id]
