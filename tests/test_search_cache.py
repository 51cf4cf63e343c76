"""The evaluation cache, the caching evaluator, the accuracy predictor and Pareto fronts."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elasticvit.search.cache import CacheContext, Evaluation, EvaluationCache
from elasticvit.search.evaluator import AccuracyEvaluator
from elasticvit.search.pareto import pareto_front
from elasticvit.search.predictor import AccuracyPredictor, flatten_numbers
from tests.test_search_toy import ToyArch, ToyScorer, ToySpace, accuracy, loss

CONTEXT = CacheContext(supernet="s1", data="d1")


def _archs(n: int, seed: int = 0) -> list[ToyArch]:
    rng = np.random.default_rng(seed)
    return list({a.id: a for a in (ToySpace().sample(rng) for _ in range(n))}.values())


def test_second_evaluator_on_the_same_store_measures_nothing(tmp_path: Path) -> None:
    archs = _archs(10)
    first = AccuracyEvaluator(ToyScorer(), EvaluationCache(tmp_path / "c.sqlite"), CONTEXT)
    assert first.evaluate_many(archs) == [accuracy(a) for a in archs]
    assert (first.stats.misses, first.stats.hits) == (len(archs), 0)

    scorer = ToyScorer()
    second = AccuracyEvaluator(scorer, EvaluationCache(tmp_path / "c.sqlite"), CONTEXT)
    assert second.evaluate_many(archs[::-1]) == [accuracy(a) for a in archs[::-1]]
    assert scorer.calls == 0 and second.stats.hits == len(archs)


def test_a_damaged_cache_file_is_set_aside_and_started_afresh(tmp_path: Path) -> None:
    path = tmp_path / "evaluations.sqlite"
    path.write_bytes(b"this is not an SQLite database" * 100)
    archs = _archs(4)
    evaluator = AccuracyEvaluator(ToyScorer(), EvaluationCache(path), CONTEXT)
    assert evaluator.evaluate_many(archs) == [accuracy(a) for a in archs]
    assert len(EvaluationCache(path)) == len(archs)
    (aside,) = tmp_path.glob("evaluations.sqlite.damaged-*")
    assert aside.read_bytes().startswith(b"this is not")


def test_duplicates_in_one_request_are_measured_once(tmp_path: Path) -> None:
    a = _archs(1)[0]
    scorer = ToyScorer()
    evaluator = AccuracyEvaluator(scorer, EvaluationCache(tmp_path / "c.sqlite"), CONTEXT)
    assert evaluator.evaluate_many([a, a, a]) == [accuracy(a)] * 3
    assert scorer.calls == 1


def test_another_supernet_or_data_is_another_key(tmp_path: Path) -> None:
    cache = EvaluationCache(tmp_path / "c.sqlite")
    a = _archs(1)[0]
    AccuracyEvaluator(ToyScorer(), cache, CONTEXT).evaluate_many([a])
    for context in (CacheContext(supernet="s2", data="d1"), CacheContext(supernet="s1", data="d2")):
        scorer = ToyScorer()
        AccuracyEvaluator(scorer, cache, context).evaluate_many([a])
        assert scorer.calls == 1
    assert len(cache) == 3


def test_stored_arch_round_trips_and_first_write_wins(tmp_path: Path) -> None:
    cache = EvaluationCache(tmp_path / "c.sqlite")
    a = _archs(1)[0]
    cache.put(CONTEXT, Evaluation(arch_id=a.id, accuracy=0.5, samples=10, seconds=0.1, arch=a.model_dump(mode="json")))
    cache.put(CONTEXT, Evaluation(arch_id=a.id, accuracy=0.9, samples=10, seconds=0.1, arch={}))
    (stored,) = cache.all(CONTEXT)
    assert stored.accuracy == 0.5 and ToyArch.model_validate(stored.arch) == a


def test_ranking_by_loss_scores_minus_the_loss_and_keeps_the_accuracy(tmp_path: Path) -> None:
    archs = _archs(6)
    evaluator = AccuracyEvaluator(ToyScorer(), EvaluationCache(tmp_path / "c.sqlite"), CONTEXT, rank_by="loss")
    assert evaluator.evaluate_many(archs) == [-loss(a) for a in archs]
    stored = {e.arch_id: e for e in evaluator.cached()}
    assert all(stored[a.id].accuracy == accuracy(a) and stored[a.id].loss == loss(a) for a in archs)


_OLD_SCHEMA = """
CREATE TABLE evaluations (
    arch_id TEXT NOT NULL, supernet TEXT NOT NULL, data TEXT NOT NULL, accuracy REAL NOT NULL,
    samples INTEGER NOT NULL, seconds REAL NOT NULL, arch TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (arch_id, supernet, data)
)
"""


def test_a_store_from_before_losses_is_kept_and_its_archs_are_re_measured_only_for_the_loss(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    archs = _archs(5)
    with sqlite3.connect(path) as db:  # a store written before the loss was recorded, with a stale accuracy
        db.execute(_OLD_SCHEMA)
        db.executemany("INSERT INTO evaluations VALUES (?, 's1', 'd1', 0.25, 100, 1.0, ?, 0.0)",
                       [(a.id, json.dumps(a.model_dump(mode="json"))) for a in archs])
    by_accuracy = AccuracyEvaluator(ToyScorer(), EvaluationCache(path), CONTEXT)
    assert by_accuracy.evaluate_many(archs) == [0.25] * 5 and by_accuracy.stats.misses == 0
    scorer = ToyScorer()
    by_loss = AccuracyEvaluator(scorer, EvaluationCache(path), CONTEXT, rank_by="loss")
    assert by_loss.cached() == []  # nothing it can rank yet
    assert by_loss.evaluate_many(archs) == [-loss(a) for a in archs] and scorer.calls == 5
    # the loss is filled in; the accuracy first stored stays (first write wins)
    assert {(e.accuracy, e.loss) for e in EvaluationCache(path).all(CONTEXT)} == {(0.25, loss(a)) for a in archs}
    again = ToyScorer()
    AccuracyEvaluator(again, EvaluationCache(path), CONTEXT, rank_by="loss").evaluate_many(archs)
    assert again.calls == 0


_WRITER = """
import sys
from elasticvit.search.cache import CacheContext, Evaluation, EvaluationCache
path, start = sys.argv[1], int(sys.argv[2])
cache = EvaluationCache(path)
context = CacheContext(supernet="s1", data="d1")
for i in range(start, start + 40):
    cache.put(context, Evaluation(arch_id=f"a{i}", accuracy=i / 100, samples=1, seconds=0.0, arch={"i": i}))
"""


def test_concurrent_processes_append_safely(tmp_path: Path) -> None:
    path = str(tmp_path / "c.sqlite")
    EvaluationCache(path)
    # Separate interpreters (not forks of this threaded test process) open their own connections.
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, path, str(k * 40)], stderr=subprocess.PIPE, text=True)
        for k in range(2)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert len(EvaluationCache(path).all(CONTEXT)) == 80


def test_predictor_ranks_unseen_archs() -> None:
    train, test = _archs(150, seed=1), _archs(40, seed=2)
    predictor = AccuracyPredictor.fit([a.id for a in train], [a.model_dump() for a in train], [accuracy(a) for a in train], seed=0)
    predicted = predictor.predict([a.model_dump() for a in test])
    truth = np.array([accuracy(a) for a in test])
    assert np.corrcoef(predicted, truth)[0, 1] > 0.8


def test_known_archs_are_estimated_out_of_bag() -> None:
    train = _archs(60, seed=1)
    truth = np.array([accuracy(a) for a in train])
    predictor = AccuracyPredictor.fit([a.id for a in train], [a.model_dump() for a in train], truth, seed=0)
    in_sample = predictor.predict([a.model_dump() for a in train])
    estimated = predictor.estimate([a.id for a in train], [a.model_dump() for a in train])
    # out-of-bag errors are honest: larger than the in-sample fit's
    assert np.abs(estimated - truth).mean() > np.abs(in_sample - truth).mean()
    fresh = _archs(5, seed=9)
    assert np.allclose(predictor.estimate([a.id for a in fresh], [a.model_dump() for a in fresh]),
                       predictor.predict([a.model_dump() for a in fresh]))


def test_flatten_numbers_keys_by_path() -> None:
    value = {"r": 32, "stages": [{"d": 2, "e": [3, 4]}, {"d": 1, "kind": "mb", "se": True}]}
    assert flatten_numbers(value) == {
        "r": 32.0, "stages.0.d": 2.0, "stages.0.e.0": 3.0, "stages.0.e.1": 4.0, "stages.1.d": 1.0, "stages.1.se": 1.0,
    }


def test_pareto_front_small_case() -> None:
    lat = [1.0, 2.0, 2.0, 3.0, 0.5, 3.0]
    acc = [0.5, 0.7, 0.6, 0.7, 0.4, 0.9]
    assert pareto_front(lat, acc) == [4, 0, 1, 5]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), min_size=1, max_size=30))
def test_pareto_front_is_exactly_the_non_dominated_points(points: list[tuple[int, int]]) -> None:
    lat, acc = zip(*points)
    front = pareto_front(lat, acc)

    def dominated(i: int) -> bool:
        return any(
            lat[j] <= lat[i] and acc[j] >= acc[i] and (lat[j] < lat[i] or acc[j] > acc[i]) for j in range(len(points))
        )

    non_dominated = [i for i in range(len(points)) if not dominated(i)]
    # of exact duplicates one is kept
    assert {points[i] for i in front} == {points[i] for i in non_dominated}
    assert len(front) == len({points[i] for i in front})
    assert [lat[i] for i in front] == sorted(lat[i] for i in front)


def test_pareto_front_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        pareto_front([1.0], [0.1, 0.2])
