"""bench.vs_baselines without training: the comparison and the train-once accounting on numbers
worked out by hand, the targets, and the stage cache skipping an unchanged stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.vs_baselines import (
    Bench,
    StageCache,
    SupernetRun,
    check_targets,
    device_pareto,
    device_rows,
    row_measured,
    summary,
    train_once,
)
from elasticvit.baselines import Comparison, ParetoPoint, comparison_table


def subnet(name: str, acc: float, ms: float, kind: str = "subnet", measured: bool = True) -> ParetoPoint:
    return ParetoPoint(name=name, kind=kind, accuracy=acc, latency_ms=ms, measured=measured)  # type: ignore[arg-type]


def baseline(name: str, acc: float, ms: float) -> ParetoPoint:
    return ParetoPoint(name=name, kind="baseline", accuracy=acc, latency_ms=ms, measured=True)


def hand_made() -> Comparison:
    # subnets: a 0.60 @ 1.0 ms, b 0.70 @ 2.0 ms (chosen), c 0.74 @ 3.0 ms, d 0.65 @ 2.5 ms (dominated by b)
    subnets = [subnet("a", 0.60, 1.0), subnet("b", 0.70, 2.0, "chosen"), subnet("c", 0.74, 3.0), subnet("d", 0.65, 2.5)]
    baselines = [baseline("resnet18", 0.72, 4.0), baseline("mobilenet", 0.66, 2.0), baseline("tiny", 0.50, 0.5)]
    pareto = device_pareto("dev", subnets, baselines)
    return Comparison(paretos=[pareto], rows=comparison_table([pareto]))


def test_the_front_of_the_measured_subnets_leaves_out_the_dominated_one():
    assert hand_made().paretos[0].front == ["a", "b", "c"]


def test_each_baseline_gets_the_best_subnet_no_slower_and_the_fastest_no_less_accurate():
    rows = {r.baseline: r for r in hand_made().rows}
    r18 = rows["resnet18"]  # 0.72 at 4.0 ms: c (0.74 at 3.0) is both more accurate and faster
    assert (r18.subnet_at_latency, r18.subnet_at_accuracy) == ("c", "c")
    assert r18.accuracy_gain == pytest.approx(0.02)
    assert r18.speedup_at_accuracy == pytest.approx(4.0 / 3.0)
    mobile = rows["mobilenet"]  # 0.66 at 2.0 ms: at <= 2.0 ms the best is b (0.70); >= 0.66 the fastest is b
    assert mobile.subnet_at_latency == "b" and mobile.accuracy_gain == pytest.approx(0.04)
    assert mobile.subnet_at_accuracy == "b" and mobile.speedup_at_accuracy == pytest.approx(1.0)
    tiny = rows["tiny"]  # 0.50 at 0.5 ms: no subnet that fast; the fastest as accurate is a, 2x slower
    assert tiny.subnet_at_latency is None and tiny.accuracy_gain is None
    assert tiny.subnet_at_accuracy == "a" and tiny.speedup_at_accuracy == pytest.approx(0.5)


def test_rows_in_todays_format_say_whether_they_were_measured():
    rows = device_rows(hand_made())["dev"]
    assert [r["baseline"] for r in rows] == ["resnet18", "mobilenet", "tiny"]
    assert set(rows[0]) == {"baseline", "baseline_acc", "baseline_ms", "subnet_acc_at_latency",
                            "speedup_at_accuracy", "measured"}
    assert all(r["measured"] for r in rows)
    # a subnet whose latency was only predicted makes the rows comparing it unmeasured
    pareto = device_pareto("dev", [subnet("a", 0.6, 1.0, measured=False), subnet("c", 0.8, 3.0)],
                           [baseline("fast", 0.5, 1.5), baseline("slow", 0.9, 9.0)])
    fast, slow = comparison_table([pareto])
    assert not row_measured(fast, pareto)  # compared with a (predicted)
    assert row_measured(slow, pareto)  # compared with c only (no subnet reaches 0.9)


def test_train_once_accounting():
    once = train_once(3000.0, 3000.0, 3, [100.0, 200.0, 300.0])
    assert once["per_device_s"] == 200.0
    three, ten = once["devices"]["3"], once["devices"]["10"]
    # 3 devices: 3000 + 3 * 200 = 3600 s once, against 3 * 3 * 3000 = 27000 s of stock models
    assert (three["train_once_s"], three["stock_s"]) == (3600.0, 27000.0)
    assert three["ratio"] == pytest.approx(7.5) and three["training_only_ratio"] == pytest.approx(9.0)
    # 10 devices: 3000 + 10 * 200 = 5000 s against 90000 s
    assert (ten["train_once_s"], ten["stock_s"], ten["ratio"]) == (5000.0, 90000.0, 18.0)
    assert ten["training_only_ratio"] == pytest.approx(30.0)
    assert "train_once_s(D)" in once["formula"]


def test_the_summary_says_the_machine_speed_each_budget_was_spent_at():
    rows = hand_made().rows
    report = {"budget_s": 3000.0, "train_once": train_once(3000.0, 3000.0, 3, [100.0]),
              "targets": check_targets(rows, speedup=("resnet18", "dev", 2.0)),
              "setup": {"quick": False, "budget_given": False, "supernet_speed_probe_ms": 6.15,
                        "speed_probe": "resnet18 batch-1 ms on torch-cpu-1t (4.6 on the reference machine)"},
              "baselines": {"resnet18": {"speed_probe_ms": [4.61, 4.93]}, "mobilenet": {"speed_probe_ms": None}}}
    speed = [line for line in summary(report, rows).splitlines() if line.startswith("Machine speed")]
    assert speed == ["Machine speed (resnet18 batch-1 ms on torch-cpu-1t (4.6 on the reference machine); budgets "
                     "spent on a slower hour buy less): supernet 6.15; resnet18 4.61-4.93."]
    report["setup"]["supernet_speed_probe_ms"] = None
    report["baselines"]["resnet18"]["speed_probe_ms"] = None  # records from before the probe: no line
    assert not [line for line in summary(report, rows).splitlines() if line.startswith("Machine speed")]


def test_targets_say_where_they_are_missed_and_by_how_much():
    rows = hand_made().rows
    t = check_targets(rows, speedup=("resnet18", "dev", 2.0))
    assert [(x["baseline"], x["gain_pts"], x["met"]) for x in t["at_latency"]] == [
        ("resnet18", 2.0, True), ("mobilenet", 4.0, True), ("tiny", None, False)]
    assert t["speedup"]["speedup"] == pytest.approx(4.0 / 3.0) and not t["speedup"]["met"]
    assert not t["all_met"]
    assert check_targets(rows[:2], speedup=("resnet18", "dev", 1.3))["all_met"]


def test_the_stage_cache_runs_an_unchanged_stage_once(tmp_path: Path):
    cache = StageCache(tmp_path)
    calls: list[Path] = []

    def stage(folder: Path) -> dict:
        calls.append(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "artifact.txt").write_text("made")
        return {"value": len(calls)}

    first = cache.run("train", {"model": "resnet18", "budget_s": 2831.1}, stage)
    again = cache.run("train", {"budget_s": 2831.1, "model": "resnet18"}, stage)  # same inputs, any order
    assert len(calls) == 1 and first["value"] == again["value"] == 1
    assert "stage_s" in first and (calls[0] / "artifact.txt").exists()
    changed = cache.run("train", {"model": "resnet18", "budget_s": 1900.0}, stage)
    assert len(calls) == 2 and changed["value"] == 2 and calls[1] != calls[0]
    other_stage = cache.run("search", {"model": "resnet18", "budget_s": 2831.1}, stage)  # same inputs, other stage
    assert len(calls) == 3 and other_stage["value"] == 3
    # a later sitting (a new cache object on the same folder) still skips it
    assert StageCache(tmp_path).run("train", {"model": "resnet18", "budget_s": 2831.1}, stage)["value"] == 1
    assert len(calls) == 3


def test_a_missing_stage_another_part_needs_names_the_command(tmp_path: Path):
    cache = StageCache(tmp_path)
    with pytest.raises(SystemExit, match="--part baselines --model resnet18"):
        cache.need("baseline", {"model": "resnet18"}, "--part baselines --model resnet18")
    cache.run("baseline", {"model": "resnet18"}, lambda folder: {"ok": True})
    assert cache.need("baseline", {"model": "resnet18"}, "unused")["ok"]


def _bench_with_supernet(train_s: float, quick: bool, given: float | None = None) -> Bench:
    bench = object.__new__(Bench)  # no data, no config: only the budget rule
    bench.quick, bench.given_budget_s = quick, given
    bench.__dict__["supernet"] = SupernetRun(run_key="k", path=Path("s.pt"), record=Path("train.json"),
                                             train_s=train_s, extrapolated=False)
    return bench


def test_a_full_run_refuses_a_budget_under_30_minutes():
    assert _bench_with_supernet(2831.1, quick=False).budget_s == 2831.1
    with pytest.raises(SystemExit, match="1800"):
        _ = _bench_with_supernet(900.0, quick=False).budget_s
    assert _bench_with_supernet(900.0, quick=True).budget_s == 5.0  # --quick: seconds, whatever the supernet took


def test_a_given_budget_replaces_the_recorded_one_and_names_itself_in_hints():
    bench = _bench_with_supernet(4567.0, quick=False, given=2400.0)
    assert bench.budget_s == 2400.0
    assert bench._cmd("--part report") == "--budget-s 2400 --part report"
    with pytest.raises(SystemExit, match="1800"):
        _ = _bench_with_supernet(4567.0, quick=False, given=900.0).budget_s
