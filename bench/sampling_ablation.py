"""Benchmark: uniform vs complexity-aware vs performance-aware sampling under the same budget.

Trains the ``cifar`` space on the shared CIFAR-10 subset (10k train / 2k val) once per strategy
with the same number of steps, each of 4 forward/backward passes (uniform: largest + 2 random +
smallest; the others: 3 of the level + its smallest), and repeats one strategy with a second seed
to show the seed noise. Each trained supernet is then scored on 5 MACs targets spanning the space:
for each target, among a fixed set of subnets (the same for every strategy), the one with the best
accuracy on the val split (10 % of train.npz) that fits the target is reported with its accuracy
on the test split (val.npz, the official test images): selecting and reporting on the same images
would flatter every strategy.

Writes ``bench/results/sampling_ablation.json`` and ``.png``; runs live under
``artifacts/bench/sampling/`` and resume if the benchmark is restarted.

    python -m bench.sampling_ablation --quick          # smoke run, a few minutes
    python -m bench.sampling_ablation                  # CPU budget (see docs/benchmarks.md)
    python -m bench.sampling_ablation --device cuda    # larger budget on a GPU
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel

from elasticvit.config.experiment import DataConfig, ExperimentConfig
from elasticvit.data import InMemoryLoader, load_split, prepare_dataset
from elasticvit.model import Supernet
from elasticvit.space import Arch, load_space
from elasticvit.space.complexity import arch_macs
from elasticvit.training import (
    ProbeResult,
    accuracy,
    evaluate_subnet,
    load_supernet,
    plot_accuracy_vs_macs,
    pools_for,
    train_supernet,
)
from elasticvit.training.bn_calibration import preserved_bn_state
from elasticvit.utils.atomic import write_json, write_text

from bench.supernet_eval import LogProgress

ROOT = Path(__file__).resolve().parents[1]
SHARED_CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10"
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "artifacts" / "bench" / "sampling"
STRATEGIES = ("uniform", "complexity", "performance")
TARGET_QUANTILES = (0.1, 0.3, 0.5, 0.7, 1.0)

log = logging.getLogger("bench.sampling_ablation")


class Budget(BaseModel):
    """Identical for every strategy."""

    epochs: int
    steps_per_epoch: int
    batch_size: int
    passes_per_step: int
    num_levels: int
    eval_subnets_per_level: int
    calib_batches: int
    device: str
    seeds: list[int]
    repeat_strategy: str


_COMMON = {"passes_per_step": 4, "seeds": [0, 1], "repeat_strategy": "uniform"}
BUDGETS = {
    # a few minutes in all on 2 busy CPU cores: proves the pipeline, says nothing about the strategies
    "quick": Budget(epochs=2, steps_per_epoch=2, batch_size=16, num_levels=4, eval_subnets_per_level=1,
                    calib_batches=1, device="cpu", **_COMMON),
    "cpu": Budget(epochs=2, steps_per_epoch=150, batch_size=32, num_levels=8, eval_subnets_per_level=2,
                  calib_batches=8, device="cpu", **_COMMON),
    "cuda": Budget(epochs=40, steps_per_epoch=140, batch_size=64, num_levels=8, eval_subnets_per_level=8,
                   calib_batches=8, device="cuda", **_COMMON),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run with a tiny budget")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--epochs", type=int, help="override the budget's epochs")
    parser.add_argument("--data", type=Path, default=SHARED_CIFAR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    budget = BUDGETS["quick" if args.quick else args.device]
    if args.epochs:
        budget = budget.model_copy(update={"epochs": args.epochs})
    tag = "quick" if args.quick else args.device
    work = WORK / tag
    data_dir = prepare_data(args.data, work / "data", per_class=30 if args.quick else None)
    runs = [(s, budget.seeds[0]) for s in STRATEGIES] + [(budget.repeat_strategy, budget.seeds[1])]
    outcomes = {}
    for strategy, seed in runs:
        outcomes[(strategy, seed)] = run_strategy(strategy, seed, budget, data_dir, work)
    report = {
        "budget": {
            **budget.model_dump(),
            "steps": budget.epochs * budget.steps_per_epoch,
            "forward_backward_passes": budget.epochs * budget.steps_per_epoch * budget.passes_per_step,
        },
        "strategies": {s: outcomes[(s, budget.seeds[0])].summary for s in STRATEGIES},
        "seed_repeat": {
            "strategy": budget.repeat_strategy,
            "seed": budget.seeds[1],
            **outcomes[(budget.repeat_strategy, budget.seeds[1])].summary,
        },
    }
    name = {"quick": "sampling_ablation_quick", "cpu": "sampling_ablation"}.get(tag, f"sampling_ablation_{tag}")
    write_json(RESULTS / f"{name}.json", report)
    plot_accuracy_vs_macs(
        {f"{s} (seed {seed})": o.frontier for (s, seed), o in outcomes.items()},
        RESULTS / f"{name}.png",
        title=f"best subnet under each MACs target, {budget.epochs * budget.steps_per_epoch} steps",
    )
    write_text(RESULTS / f"{name}.md", markdown_table(report))
    log.info("\n%s", markdown_table(report))


def prepare_data(source: Path, out: Path, per_class: int | None) -> Path:
    """train.npz split into train (90 %) and val (10 %, selection); val.npz becomes test (reporting)."""
    cfg = DataConfig(source="npz", path=source, val_fraction=0.1, max_per_class=per_class, output_dir=out)
    prepare_dataset(cfg, progress=False)
    return out


class SubnetEval(BaseModel):
    arch_id: str
    macs: int
    acc_select: float  # on the val split: picks the subnet per target
    acc_report: float  # on the test split (the official test images): what is reported


class RunOutcome(BaseModel):
    summary: dict  # per_target, mean, grad_cosine_mean, train_wall_s, scoring_forwards
    frontier: list[ProbeResult]
    evals: list[SubnetEval]


def run_strategy(strategy: str, seed: int, budget: Budget, data_dir: Path, work: Path) -> RunOutcome:
    """Train (or resume) one supernet, then evaluate the fixed subnet set on it."""
    out = work / f"{strategy}-seed{seed}"
    cached = out / "bench_eval.json"
    if cached.exists():
        return RunOutcome.model_validate_json(cached.read_text())
    cfg = experiment_config(strategy, seed, budget)
    started = time.perf_counter()
    result = train_supernet(cfg, data_dir, out, [LogProgress(f"{strategy} seed {seed}", every=25)])
    train_s = time.perf_counter() - started
    log.info("%s seed %d: trained %d steps in %.0f s", strategy, seed, result.steps, train_s)
    model, meta = load_supernet(result.checkpoint, budget.device)
    evals = evaluate_fixed_set(model, meta.num_classes, data_dir, budget, work)
    summary, frontier = score_targets(evals)
    summary.update(
        grad_cosine_mean=result.grad_cos_prev_step_mean,
        train_wall_s=round(train_s, 1) if result.resumed_from_step == 0 else None,
        scoring_forwards=result.scoring_forwards,
    )
    outcome = RunOutcome(summary=summary, frontier=frontier, evals=evals)
    write_text(cached, outcome.model_dump_json(indent=1))
    return outcome


def experiment_config(strategy: str, seed: int, budget: Budget) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "name": f"sampling-ablation-{strategy}",
            "space": {"name": "cifar"},
            "training": {
                "epochs": budget.epochs, "batch_size": budget.batch_size, "max_steps_per_epoch": budget.steps_per_epoch,
                "lr": 2e-3, "warmup_epochs": budget.epochs / 10, "probes_per_level": 0,
                "bn_calib_batches": budget.calib_batches, "device": budget.device, "seed": seed,
                "checkpoint_every_steps": 100,
            },
            "sampling": {
                "strategy": strategy, "num_random": budget.passes_per_step - 2,
                "subnets_per_step": budget.passes_per_step - 1, "num_levels": budget.num_levels, "seed": seed,
                "pool_size": 200, "rescore_every": 100, "bank_capacity_small": 30, "bank_capacity_large": 10,
            },
        }
    )


def evaluation_set(budget: Budget, num_classes: int, work: Path) -> list[Arch]:
    """The smallest and largest subnets plus a few pool members per level, fixed for all runs."""
    space = load_space("cifar")
    pools = pools_for(experiment_config("uniform", budget.seeds[0], budget), space, num_classes, work / "pools")
    rng = np.random.default_rng(20231001)
    archs = [space.smallest(), space.largest()]
    per_level = budget.eval_subnets_per_level
    archs += [pools.sample(level, rng) for level in range(pools.num_levels) for _ in range(per_level)]
    return list(dict.fromkeys(archs))


def evaluate_fixed_set(
    model: Supernet, num_classes: int, data_dir: Path, budget: Budget, work: Path
) -> list[SubnetEval]:
    """Every subnet of the evaluation set, its BN recalibrated on the same training batches."""
    space = load_space("cifar")
    device = torch.device(budget.device)
    images, labels = load_split(data_dir, "train")
    calib_loader = InMemoryLoader(
        images, labels, batch_size=budget.batch_size, shuffle=True, augment=False, drop_last=True,
        generator=torch.Generator().manual_seed(0), device=device,
    )
    calib = [x for x, _ in itertools.islice(calib_loader, budget.calib_batches)]
    select, report = (
        list(InMemoryLoader(*load_split(data_dir, split), batch_size=250, shuffle=False, device=device))
        for split in ("val", "test")
    )
    evals = []
    with preserved_bn_state(model):
        for arch in evaluation_set(budget, num_classes, work):
            acc_select = evaluate_subnet(model, arch, select, calib)[0]
            acc_report = accuracy(model, arch, report)[0]  # with the statistics just recalibrated
            macs = arch_macs(space, arch, num_classes)
            evals.append(SubnetEval(arch_id=arch.id, macs=macs, acc_select=acc_select, acc_report=acc_report))
    return evals


def score_targets(evals: list[SubnetEval]) -> tuple[dict, list[ProbeResult]]:
    """Per MACs target: the reported accuracy of the best-selected subnet within the target."""
    targets = [int(t) for t in np.quantile([e.macs for e in evals], TARGET_QUANTILES, method="higher")]
    per_target, frontier = {}, []
    for target in targets:
        best = max((e for e in evals if e.macs <= target), key=lambda e: (e.acc_select, -e.macs))
        per_target[str(target)] = best.acc_report
        frontier.append(
            ProbeResult(name=f"<={target}", arch_id=best.arch_id, level=0, macs=best.macs, accuracy=best.acc_report,
                        loss=0.0)
        )
    return {"per_target": per_target, "mean": float(np.mean(list(per_target.values())))}, frontier


def markdown_table(report: dict) -> str:
    repeat = report["seed_repeat"]
    rows = {**report["strategies"], f"{repeat['strategy']} (seed {repeat['seed']})": repeat}
    targets = list(next(iter(rows.values()))["per_target"])
    columns = [f"<= {int(t) / 1e6:.1f} M" for t in targets] + ["mean", "grad cos (consecutive)", "scoring fwd"]
    head = "| strategy | " + " | ".join(columns) + " |"
    lines = [head, "|" + " --- |" * (len(targets) + 4)]
    for name, row in rows.items():
        accs = " | ".join(f"{100 * row['per_target'][t]:.1f}" for t in targets)
        cos = row["grad_cosine_mean"]
        lines.append(f"| {name} | {accs} | {100 * row['mean']:.2f} | {cos:.3f} | {row['scoring_forwards']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
