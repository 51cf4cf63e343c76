"""Baselines without training: model names and checkpoints, budgets, the comparison on hand-made numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from elasticvit.baselines import (
    BaselineResult,
    Budget,
    CheckpointError,
    ParetoPoint,
    TrainStats,
    UnknownModelError,
    check_model_name,
    compare,
    compare_all,
    create_baseline,
    device_pareto,
    markdown_table,
    plot_pareto,
    resolve_budget,
)
from elasticvit.baselines.interleaved import InterleavedTiming, TimedModel, timed_archs
from elasticvit.config.experiment import BaselinesConfig, TrainingConfig
from elasticvit.latency import Measurement
from elasticvit.search import BudgetResult, CloudPoint, DeviceSearchResult


def test_unknown_model_name_is_rejected_with_close_matches() -> None:
    with pytest.raises(UnknownModelError, match="unknown timm model 'resnet19'.*resnet18"):
        check_model_name("resnet19")
    with pytest.raises(UnknownModelError, match="mobilenetv3_small_100"):
        create_baseline("mobilenetv3_smal_100", num_classes=10)
    assert check_model_name("resnet18") == "resnet18"


def test_create_baseline_has_the_data_head_and_loads_a_state_dict(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_baseline("resnet10t", num_classes=7)
    assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 7)
    path = tmp_path / "weights.pt"
    torch.save({"state_dict": model.state_dict()}, path)
    loaded = create_baseline("resnet10t", num_classes=7, checkpoint=path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True))
    with pytest.raises(CheckpointError, match="does not fit"):
        create_baseline("resnet10t", num_classes=5, checkpoint=path)
    with pytest.raises(CheckpointError, match="not found"):
        create_baseline("resnet10t", num_classes=7, checkpoint=tmp_path / "missing.pt")


class _Payload:
    """Not a tensor: a weights-only load must refuse it."""


def test_checkpoint_with_pickled_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "code.pt"
    torch.save({"state_dict": {}, "extra": _Payload()}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        create_baseline("resnet10t", num_classes=7, checkpoint=path)


def test_budget_follows_the_config() -> None:
    training = TrainingConfig(epochs=4)
    assert resolve_budget(BaselinesConfig(), training) == Budget(epochs=4)
    assert resolve_budget(BaselinesConfig(epochs=2), training) == Budget(epochs=2)
    assert resolve_budget(BaselinesConfig(budget="minutes", minutes=1.5), training) == Budget(seconds=90.0)
    assert resolve_budget(BaselinesConfig(budget="same_as_supernet"), training, 321.0) == Budget(seconds=321.0)
    with pytest.raises(ValueError, match="supernet's training time is unknown"):
        resolve_budget(BaselinesConfig(budget="same_as_supernet"), training)
    with pytest.raises(ValueError, match="minutes is required"):
        BaselinesConfig(budget="minutes")
    with pytest.raises(ValueError, match="not in baselines.models"):
        BaselinesConfig(checkpoints={"resnet50": Path("x.pt")})
    with pytest.raises(ValueError, match="exactly one"):
        Budget(epochs=1, seconds=1.0)


def _subnet(name: str, ms: float, acc: float) -> ParetoPoint:
    return ParetoPoint(name=name, kind="subnet", accuracy=acc, latency_ms=ms, measured=False)


def _baseline(name: str, ms: float, acc: float) -> ParetoPoint:
    return ParetoPoint(name=name, kind="baseline", accuracy=acc, latency_ms=ms, measured=True)


SUBNETS = [_subnet("a", 1.0, 0.60), _subnet("b", 2.0, 0.70), _subnet("c", 3.0, 0.75), _subnet("d", 5.0, 0.80)]


def test_comparison_figures_on_hand_made_numbers() -> None:
    # slower and more accurate than b, faster and less accurate than c
    row = compare(_baseline("r18", 2.5, 0.72), SUBNETS, "dev")
    assert (row.subnet_at_latency, row.subnet_acc_at_latency) == ("b", 0.70)
    assert row.accuracy_gain == pytest.approx(-0.02)
    assert (row.subnet_at_accuracy, row.subnet_ms_at_accuracy) == ("c", 3.0)
    assert row.speedup_at_accuracy == pytest.approx(2.5 / 3.0)

    row = compare(_baseline("big", 4.6, 0.74), SUBNETS, "dev")
    assert row.subnet_at_latency == "c" and row.accuracy_gain == pytest.approx(0.01)
    assert row.subnet_at_accuracy == "c" and row.speedup_at_accuracy == pytest.approx(4.6 / 3.0)
    assert "| dev | big | 74.0% | 4.60 ms | 75.0% at 3.00 ms | +1.0 pts | 75.0% at 3.00 ms | 1.53x |" in markdown_table([row])

    # exactly at a subnet's latency and accuracy: that subnet counts for both figures
    row = compare(_baseline("twin", 2.0, 0.70), SUBNETS, "dev")
    assert row.subnet_at_latency == "b" and row.accuracy_gain == 0.0
    assert row.subnet_at_accuracy == "b" and row.speedup_at_accuracy == 1.0

    # faster than every subnet and more accurate than all: the baseline wins both ways
    row = compare(_baseline("winner", 0.5, 0.90), SUBNETS, "dev")
    assert row.subnet_at_latency is None and row.accuracy_gain is None
    assert row.subnet_at_accuracy is None and row.speedup_at_accuracy is None
    assert "| dev | winner | 90.0% | 0.50 ms | none | none | none | none |" in markdown_table([row])


def test_ties_go_to_the_better_other_figure() -> None:
    subnets = [_subnet("slow", 2.0, 0.7), _subnet("fast", 1.5, 0.7), _subnet("fast-worse", 1.5, 0.69)]
    row = compare(_baseline("m", 2.0, 0.7), subnets, "dev")
    assert row.subnet_at_latency == "fast"  # same accuracy, less latency
    assert row.subnet_at_accuracy == "fast"


def _measurement(ms: float) -> Measurement:
    return Measurement(count=10, trimmed=0, attempts=1, median_ms=ms, mean_ms=ms, std_ms=0.0, min_ms=ms, cv=0.0)


def make_baseline_result(model: str, acc: float, ms_by_device: dict[str, float]) -> BaselineResult:
    return BaselineResult(
        model=model, num_classes=10, resolution=32, params=1000, macs=10_000, budget=Budget(epochs=1),
        train=TrainStats(steps=10, epochs=1.0, train_s=1.0, images_per_s=100.0, final_lr=1e-5),
        val_accuracy=acc, val_loss=1.0, test_accuracy=acc, test_loss=1.0,
        latency={d: _measurement(ms) for d, ms in ms_by_device.items()}, statistic="median", weights=Path("model.pt"),
    )


def make_search_result(device: str) -> DeviceSearchResult:
    cloud = [CloudPoint(arch_id=name, predicted_ms=ms, val_accuracy=acc) for name, ms, acc in
             [("a", 1.0, 0.60), ("b", 2.0, 0.70), ("c", 3.0, 0.75), ("slow-bad", 4.0, 0.65)]]
    chosen = BudgetResult(
        budget_ms=2.2, arch_id="b", arch={}, predicted_ms=2.0, measured_ms=2.1, val_accuracy=0.70, macs=None,
        params=None, evaluations=4, measured=4, history=[0.7], search_s=1.0,
    )
    return DeviceSearchResult(device=device, supernet="s", data="d", budgets=[chosen], cloud=cloud, front=cloud[:3],
                              measured=4, cache_hits=0, search_s=1.0)


def test_baseline_appears_on_the_device_pareto_data_and_plot(tmp_path: Path) -> None:
    baseline = make_baseline_result("resnet18", 0.72, {"dev": 2.5, "other": 9.0})
    pareto = device_pareto(make_search_result("dev"), [baseline])
    [point] = pareto.baselines
    assert point == ParetoPoint(name="resnet18", kind="baseline", accuracy=0.72, latency_ms=2.5, measured=True)
    chosen = [p for p in pareto.subnets if p.kind == "chosen"]
    assert [(p.name, p.latency_ms, p.measured) for p in chosen] == [("b", 2.1, True)]  # measured, not predicted
    assert pareto.front == ["a", "b", "c"]
    assert plot_pareto(pareto, tmp_path / "dev.png").read_bytes()[:4] == b"\x89PNG"

    comparison = compare_all([make_search_result("dev"), make_search_result("other")], [baseline])
    assert [(r.device, r.baseline, r.subnet_at_latency) for r in comparison.rows] == [
        ("dev", "resnet18", "b"), ("other", "resnet18", "c")
    ]
    assert type(comparison).load(comparison.save(tmp_path / "comparison.json")) == comparison


def test_the_interleaved_timing_places_the_subnets_and_baselines_it_timed() -> None:
    search = make_search_result("dev")
    timing = InterleavedTiming(device="dev", supernet="s", statistic="median", timing_s=1.0, models=[
        TimedModel(name="b", kind="chosen", measured_ms=2.4, predicted_ms=2.0),
        TimedModel(name="a", kind="front", measured_ms=0.9, predicted_ms=1.0),
        TimedModel(name="resnet18", kind="baseline", measured_ms=2.3, predicted_ms=None),
    ])
    assert timing.covers(search)
    assert not timing.model_copy(update={"supernet": "another"}).covers(search)
    assert not timing.model_copy(update={"models": timing.models[1:]}).covers(search)  # the chosen arch untimed
    baseline = make_baseline_result("resnet18", 0.72, {"dev": 2.5})
    pareto = device_pareto(search, [baseline], timing)
    placed = {p.name: (p.latency_ms, p.measured) for p in pareto.points}
    # the timing's figures win over the search's (2.1) and the baseline's own (2.5) measurements
    assert placed == {"a": (0.9, True), "b": (2.4, True), "c": (3.0, False), "slow-bad": (4.0, False),
                      "resnet18": (2.3, True)}
    # measured side by side, the chosen subnet is now slower than the baseline: no subnet at its latency beats it
    [row] = compare_all([search], [baseline], {"dev": timing}).rows
    assert (row.baseline_ms, row.subnet_at_latency, row.subnet_acc_at_latency) == (2.3, "a", 0.60)


def test_timed_archs_are_the_chosen_then_the_front_thinned_with_its_ends() -> None:
    def point(i: int) -> CloudPoint:
        return CloudPoint(arch_id=f"f{i}", predicted_ms=float(i), val_accuracy=0.5 + i / 100)

    chosen = BudgetResult(budget_ms=3.0, arch_id="f2", arch={}, predicted_ms=2.0, measured_ms=2.1, val_accuracy=0.52,
                          macs=None, params=None, evaluations=1, measured=1, history=[], search_s=0.0)
    front = [point(i) for i in range(10)]
    result = DeviceSearchResult(device="dev", supernet="s", data="d", budgets=[chosen], cloud=front, front=front,
                                measured=10, cache_hits=0, search_s=0.0)
    assert timed_archs(result, front_max=4) == {"f2": "chosen", "f0": "front", "f3": "front", "f6": "front",
                                                "f9": "front"}
    assert len(timed_archs(result, front_max=30)) == 10
    assert timed_archs(result, front_max=0) == {"f2": "chosen"}


def test_baseline_without_a_measurement_on_the_device_is_an_error() -> None:
    with pytest.raises(KeyError, match="not measured on device 'dev'"):
        device_pareto(make_search_result("dev"), [make_baseline_result("resnet18", 0.7, {"other": 1.0})])


def test_cli_rejects_an_unknown_model_before_anything_runs() -> None:
    from typer.testing import CliRunner

    from cli.main import app

    result = CliRunner().invoke(app, ["baseline", "--model", "resnet19", "--epochs", "1"])
    assert result.exit_code == 2
    assert "unknown timm model 'resnet19'" in result.output and "resnet18" in result.output
