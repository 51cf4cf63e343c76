"""The sampling ablation's records: a run's record counts only for the recipe it measured."""

from __future__ import annotations

from pathlib import Path

from bench.sampling_ablation import (
    BUDGETS,
    STRATEGIES,
    UNIFORM_STEP_COST,
    RunOutcome,
    SubnetEval,
    build_report,
    cached_outcome,
    experiment_config,
    markdown_table,
    record_path,
)
from bench.supernet_quality import run_key


BUDGET = BUDGETS["quick"]


def _record(records: Path, recipe: str | None, strategy: str = "performance", budget=BUDGET) -> None:
    outcome = RunOutcome(recipe=recipe, summary={"mean": 0.6}, frontier=[],
                         evals=[SubnetEval(arch_id="a", macs=1, acc_select=0.5, acc_report=0.6)])
    path = record_path(records, budget, strategy, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(outcome.model_dump_json())


def _key(strategy: str, budget=BUDGET) -> str:
    return run_key(experiment_config(strategy, 0, budget))


def test_a_record_of_the_same_recipe_is_reused(tmp_path: Path) -> None:
    _record(tmp_path, _key("performance"))
    found = cached_outcome(tmp_path, BUDGET, "performance", 0)
    assert found is not None and found.summary == {"mean": 0.6}
    assert cached_outcome(tmp_path, BUDGET, "performance", 1) is None  # another seed: no record


def test_a_record_of_another_recipe_or_of_none_is_trained_again(tmp_path: Path) -> None:
    _record(tmp_path, "another recipe")
    assert cached_outcome(tmp_path, BUDGET, "performance", 0) is None
    _record(tmp_path, None)  # written before records named their recipe
    assert cached_outcome(tmp_path, BUDGET, "performance", 0) is None


def test_a_run_whose_epochs_did_not_change_keeps_its_record_across_budgets(tmp_path: Path) -> None:
    equal_epochs = BUDGETS["cpu"].model_copy(update={"epochs": 30, "step_cost": {}})
    equal_compute = BUDGETS["cpu"]
    assert equal_compute.epochs_for("uniform") == equal_epochs.epochs_for("uniform") == 30
    _record(tmp_path, _key("uniform", equal_epochs), "uniform", equal_epochs)
    _record(tmp_path, _key("performance", equal_epochs), "performance", equal_epochs)
    assert cached_outcome(tmp_path, equal_compute, "uniform", 0) is not None  # the same 30-epoch run
    assert cached_outcome(tmp_path, equal_compute, "performance", 0) is None  # 59 epochs: not yet trained
    assert record_path(tmp_path, equal_compute, "performance", 0).parent.name == "e59"


def test_the_recipe_key_follows_the_sampler_fields_the_budget_pins() -> None:
    budget = BUDGETS["quick"]
    pinned = budget.model_copy(update={"overrides": [*budget.overrides, "sampling.level_student=true"]})
    free = budget.model_copy(update={"overrides": [*budget.overrides, "sampling.level_student=false"]})
    assert run_key(experiment_config("complexity", 0, pinned)) != run_key(experiment_config("complexity", 0, free))
    assert run_key(experiment_config("complexity", 0, pinned)) != run_key(experiment_config("complexity", 1, pinned))


def test_a_sampler_field_the_strategy_does_not_read_leaves_its_key_alone() -> None:
    budget = BUDGETS["quick"]

    def key(strategy: str, *fields: str) -> str:
        overrides = [*budget.overrides, *fields]
        return run_key(experiment_config(strategy, 0, budget.model_copy(update={"overrides": overrides})))

    old = ("sampling.level_student=true", "sampling.score_in_step=false")
    new = ("sampling.level_student=false", "sampling.score_in_step=true")
    assert key("uniform", *old) == key("uniform", *new)  # the uniform sampler takes neither
    assert key("complexity", "sampling.score_in_step=false") == key("complexity", "sampling.score_in_step=true")
    assert key("complexity", *old) != key("complexity", *new)  # it does take level_student
    assert key("performance", "sampling.score_in_step=false") != key("performance", "sampling.score_in_step=true")


def test_the_cpu_budget_gives_every_strategy_the_same_compute() -> None:
    budget = BUDGETS["cpu"]
    level = budget.epochs_for("performance")
    assert budget.epochs_for("complexity") == level
    assert abs(budget.epochs_for("uniform") * UNIFORM_STEP_COST - level) <= UNIFORM_STEP_COST / 2
    assert experiment_config("uniform", 0, budget).training.epochs == budget.epochs_for("uniform")
    assert experiment_config("performance", 0, budget).training.epochs == level


def test_the_report_says_each_strategys_epochs() -> None:
    budget = BUDGETS["cpu"]
    summary = {"per_target": {"1000000": 0.5}, "mean": 0.5, "largest": 0.6, "smallest": 0.4, "steps": 1,
               "grad_cosine_mean": 0.0, "train_wall_s": 1.0, "threads": 2, "scoring_forwards": 0}
    outcomes = {(s, seed): RunOutcome(recipe="k", summary=summary, frontier=[], evals=[])
                for s in STRATEGIES for seed in budget.seeds}
    report = build_report(budget, outcomes)
    assert {s: report["strategies"][s]["epochs"] for s in STRATEGIES} == {
        "uniform": 30, "complexity": 59, "performance": 59}
    rows = {line.split(" | ")[0]: line.split(" | ")[1] for line in markdown_table(report).splitlines()[2:]}
    assert rows["| uniform seed 0"] == "30" and rows["| performance seed 1"] == "59"
