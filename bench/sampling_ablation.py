"""Benchmark: uniform vs complexity-aware vs performance-aware sampling, on the shipped recipe.

Every run is ``elasticvit/configs/cifar10.yaml`` as shipped with only the sampling strategy, the
seeds and the number of epochs changed, so the ablation measures the strategy inside the recipe
users get. Each strategy is trained with two seeds (weights, data order, sampler and its pools),
and every run gets the same compute: ``uniform`` is the sandwich rule with one random subnet
(largest + 1 random + smallest: 3 forward/backward passes a step) where the shipped level-based
samplers train one anchor a step (plus, for ``performance``, its bank re-scoring forwards), so
uniform trains for the epochs its measured step cost buys (``UNIFORM_STEP_COST``: 30 where the
others train 59). Each run's measured training time is reported beside it.

Each trained supernet is scored at 5 MACs targets: among a fixed set of subnets (the space's ends
and 2 pool members per FLOPs level, the same for every run), the one with the best accuracy on the
val split (10 % of train.npz) that fits the target, reported with its accuracy on the test split
(val.npz, the official test images): selecting and reporting on the same images would flatter
every strategy.

Runs are cached under ``artifacts/bench/sampling/`` (a restarted run resumes from its last
checkpoint; a finished run's record, committed under ``bench/results/sampling_ablation_records/``
in a folder named for the run's own epochs, names its recipe, and a record of another recipe is
trained again) and can be spread over processes: ``--runs performance:0,uniform:1 --threads 1`` in two
shells trains two at once; the report is written once every run is done.

    python -m bench.sampling_ablation --quick          # smoke run, a few minutes
    python -m bench.sampling_ablation                  # the run in docs/benchmarks.md (CPU budget)
    python -m bench.sampling_ablation --device cuda    # the shipped epochs on a GPU
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
from elasticvit.config.io import load_config
from elasticvit.data import InMemoryLoader, load_split, prepare_dataset
from elasticvit.model import Supernet
from elasticvit.space import Arch, SearchSpace, load_space
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
from bench.supernet_quality import run_key

ROOT = Path(__file__).resolve().parents[1]
SHARED_CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10"
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "artifacts" / "bench" / "sampling"
RECORDS = RESULTS / "sampling_ablation_records"
"""Each finished run's evaluation (small JSON), committed: a fresh clone reports without retraining."""
CONFIG = "cifar10"
STRATEGIES = ("uniform", "complexity", "performance")
UNIFORM_RANDOM = 1  # sandwich: largest + this many random + smallest
TARGET_QUANTILES = (0.1, 0.3, 0.5, 0.7, 1.0)

log = logging.getLogger("bench.sampling_ablation")


class Budget(BaseModel):
    """Identical for every run but the epochs; ``overrides`` are applied to the shipped config after them.

    ``epochs`` is the level-based samplers' (the shipped recipe's kind); a strategy in ``step_cost``
    (its training step's cost relative to theirs) gets the epochs that buy the same compute."""

    epochs: int
    step_cost: dict[str, float] = {}
    seeds: list[int]
    eval_subnets_per_level: int
    calib_batches: int
    device: str
    overrides: list[str] = []

    def epochs_for(self, strategy: str) -> int:
        return max(1, round(self.epochs / self.step_cost.get(strategy, 1.0)))


UNIFORM_STEP_COST = 1.30 / 0.66
"""A uniform step (3 passes) against an anchors-alone step, both measured side by side with the
54-epoch recipe's step (docs/training.md): uniform 1.30x it, anchors alone 0.66x (1.97)."""


BUDGETS = {
    # a few minutes in all on 2 busy CPU cores: proves the pipeline, says nothing about the strategies
    "quick": Budget(epochs=2, seeds=[0, 1], eval_subnets_per_level=1, calib_batches=1, device="cpu",
                    overrides=["training.batch_size=16", "training.max_steps_per_epoch=2", "sampling.num_levels=4",
                               "sampling.pool_size=50", "training.warmup_epochs=0.5"]),
    # equal compute: uniform 30 epochs (4,200 steps), the level-based samplers 59. At equal epochs (30)
    # the anchors-alone default's largest stopped at 58.6 % (performance seed 0), under the 60 % the
    # ablation needs; about 35-45 min per run alone on 2 cores
    "cpu": Budget(epochs=59, step_cost={"uniform": UNIFORM_STEP_COST}, seeds=[0, 1], eval_subnets_per_level=2,
                  calib_batches=8, device="cpu"),
    # the shipped recipe's own epochs, read from its config so the two cannot drift apart
    "cuda": Budget(epochs=load_config(CONFIG).training.epochs, step_cost={"uniform": UNIFORM_STEP_COST},
                   seeds=[0, 1], eval_subnets_per_level=8, calib_batches=8, device="cuda"),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run with a tiny budget")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--epochs", type=int, help="override the budget's epochs")
    parser.add_argument("--runs", help="only these runs, e.g. 'uniform:0,performance:1' (default: all)")
    parser.add_argument("--threads", type=int, help="torch threads for this process (two processes: 1 each)")
    parser.add_argument("--data", type=Path, default=SHARED_CIFAR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)

    budget = BUDGETS["quick" if args.quick else args.device]
    if args.epochs:
        budget = budget.model_copy(update={"epochs": args.epochs})
    tag = "quick" if args.quick else args.device
    work = WORK / tag / f"e{budget.epochs}"
    data_dir = prepare_data(args.data, work / "data", per_class=30 if args.quick else None)
    runs = [(s, seed) for s in STRATEGIES for seed in budget.seeds]
    chosen = parse_runs(args.runs) if args.runs else runs
    # a quick run's records stay with its work files; the real ones are committed
    records = work / "records" if args.quick else RECORDS / tag
    for strategy, seed in chosen:
        run_strategy(strategy, seed, budget, data_dir, work, records)
    outcomes = {run: cached_outcome(records, budget, *run) for run in runs}
    missing = [f"{s}:{seed}" for (s, seed), o in outcomes.items() if o is None]
    if missing:
        log.info("report not written: runs still to do: %s", ",".join(missing))
        return
    report = build_report(budget, outcomes)
    # a quick run's report stays with its work files: its numbers mean nothing
    name = {"quick": "sampling_ablation_quick", "cpu": "sampling_ablation"}.get(tag, f"sampling_ablation_{tag}")
    out = work if args.quick else RESULTS
    write_json(out / f"{name}.json", report)
    plot_accuracy_vs_macs(
        {f"{s} (seed {seed})": o.frontier for (s, seed), o in outcomes.items()},
        out / f"{name}.png",
        title="best subnet per MACs target, epochs "
        + ", ".join(f"{s} {budget.epochs_for(s)}" for s in STRATEGIES),
        split="test",
    )
    write_text(out / f"{name}.md", markdown_table(report))
    log.info("\n%s", markdown_table(report))


def parse_runs(text: str) -> list[tuple[str, int]]:
    runs = []
    for item in text.split(","):
        strategy, _, seed = item.partition(":")
        if strategy not in STRATEGIES or not seed.isdigit():
            raise SystemExit(f"--runs: {item!r} is not STRATEGY:SEED with STRATEGY one of {', '.join(STRATEGIES)}")
        runs.append((strategy, int(seed)))
    return runs


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
    recipe: str | None = None  # the run's ``run_key``; None: recorded before records carried it
    summary: dict  # per_target, mean, largest, smallest, grad_cosine_mean, train_wall_s, scoring_forwards
    frontier: list[ProbeResult]
    evals: list[SubnetEval]


def record_path(records: Path, budget: Budget, strategy: str, seed: int) -> Path:
    """Filed under the run's own epochs: a strategy whose epochs did not change between two budgets
    (uniform's 30 under the equal-epochs and the equal-compute ablation) keeps one record for both."""
    return records / f"e{budget.epochs_for(strategy)}" / f"{strategy}-seed{seed}.json"


def cached_outcome(records: Path, budget: Budget, strategy: str, seed: int) -> RunOutcome | None:
    """The run's record if it measured the run's recipe: a record of another recipe (the shipped
    config changed since) is not this run's result, and the run is trained again."""
    recipe = run_key(experiment_config(strategy, seed, budget))
    cached = record_path(records, budget, strategy, seed)
    if not cached.exists():
        return None
    outcome = RunOutcome.model_validate_json(cached.read_text())
    if outcome.recipe != recipe:
        log.info("%s: recorded for recipe %s, the run's recipe is %s: to be trained again", cached, outcome.recipe,
                 recipe)
        return None
    return outcome


def run_strategy(
    strategy: str, seed: int, budget: Budget, data_dir: Path, work: Path, records: Path
) -> RunOutcome:
    """Train (or resume) one supernet, then evaluate the fixed subnet set on it."""
    cached = cached_outcome(records, budget, strategy, seed)
    if cached is not None:
        return cached
    cfg = experiment_config(strategy, seed, budget)
    out = work / f"{strategy}-seed{seed}"  # the loop resumes only a checkpoint of the same recipe
    started = time.perf_counter()
    result = train_supernet(cfg, data_dir, out, [LogProgress(f"{strategy} seed {seed}", every=50)])
    train_s = time.perf_counter() - started
    log.info("%s seed %d: trained %d steps in %.0f s", strategy, seed, result.steps, train_s)
    model, meta = load_supernet(result.checkpoint, budget.device)
    evals = evaluate_fixed_set(model, meta.num_classes, data_dir, budget, work)
    summary, frontier = score_targets(evals)
    space = load_space(cfg.space.name)
    by_id = {e.arch_id: e.acc_report for e in evals}
    summary.update(
        largest=by_id[space.largest().id],
        smallest=by_id[space.smallest().id],
        steps=result.steps,
        grad_cosine_mean=result.grad_cos_prev_step_mean,
        train_wall_s=round(train_s, 1) if result.resumed_from_step == 0 else None,
        threads=torch.get_num_threads(),
        scoring_forwards=result.scoring_forwards,
    )
    outcome = RunOutcome(recipe=run_key(cfg), summary=summary, frontier=frontier, evals=evals)
    write_text(record_path(records, budget, strategy, seed), outcome.model_dump_json(indent=1))
    return outcome


def experiment_config(strategy: str, seed: int, budget: Budget) -> ExperimentConfig:
    """The shipped config with this run's strategy, seeds and epochs."""
    return load_config(CONFIG, [
        f"training.epochs={budget.epochs_for(strategy)}", f"training.seed={seed}", f"training.device={budget.device}",
        f"training.bn_calib_batches={budget.calib_batches}", "training.checkpoint_every_steps=100",
        f"sampling.strategy={strategy}", f"sampling.seed={seed}", f"sampling.num_random={UNIFORM_RANDOM}",
        *budget.overrides,
    ])


def evaluation_set(
    cfg: ExperimentConfig, space: SearchSpace, budget: Budget, num_classes: int, work: Path
) -> list[Arch]:
    """The smallest and largest subnets plus a few pool members per level of ``cfg``'s pools."""
    pools = pools_for(cfg, space, num_classes, work / "pools")
    rng = np.random.default_rng(20231001)
    archs = [space.smallest(), space.largest()]
    per_level = budget.eval_subnets_per_level
    archs += [pools.sample(level, rng) for level in range(pools.num_levels) for _ in range(per_level)]
    return list(dict.fromkeys(archs))


def evaluate_fixed_set(
    model: Supernet, num_classes: int, data_dir: Path, budget: Budget, work: Path
) -> list[SubnetEval]:
    """Every subnet of the evaluation set, its BN recalibrated on the same training batches."""
    cfg = experiment_config("uniform", budget.seeds[0], budget)  # the first seed's pools: fixed for all runs
    space = load_space(cfg.space.name)
    device = torch.device(budget.device)
    images, labels = load_split(data_dir, "train")
    calib_loader = InMemoryLoader(
        images, labels, batch_size=cfg.training.batch_size, shuffle=True, augment=False, drop_last=True,
        generator=torch.Generator().manual_seed(0), device=device,
    )
    calib = [x for x, _ in itertools.islice(calib_loader, budget.calib_batches)]
    select, report = (
        list(InMemoryLoader(*load_split(data_dir, split), batch_size=250, shuffle=False, device=device))
        for split in ("val", "test")
    )
    evals = []
    with preserved_bn_state(model):
        for arch in evaluation_set(cfg, space, budget, num_classes, work):
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


def build_report(budget: Budget, outcomes: dict[tuple[str, int], RunOutcome]) -> dict:
    """Every run's figures, and per strategy the mean over seeds with the seeds' spread."""
    runs = [{"strategy": s, "seed": seed, **o.summary} for (s, seed), o in outcomes.items()]
    strategies = {}
    for strategy in STRATEGIES:
        rows = [r for r in runs if r["strategy"] == strategy]
        means = [r["mean"] for r in rows]
        strategies[strategy] = {
            "mean": float(np.mean(means)),
            "seed_spread_pts": 100 * float(max(means) - min(means)),
            "per_target": {t: float(np.mean([r["per_target"][t] for r in rows])) for t in rows[0]["per_target"]},
            "largest": float(np.mean([r["largest"] for r in rows])),
            "smallest": float(np.mean([r["smallest"] for r in rows])),
            "epochs": budget.epochs_for(strategy),
        }
    return {
        "config": CONFIG,
        "budget": budget.model_dump(),
        "uniform_random_subnets": UNIFORM_RANDOM,
        "min_largest": min(r["largest"] for r in runs),
        "runs": runs,
        "strategies": strategies,
    }


def markdown_table(report: dict) -> str:
    targets = list(report["runs"][0]["per_target"])
    columns = ["epochs", *(f"<= {int(t) / 1e6:.1f} M" for t in targets), "mean", "seed spread", "largest", "smallest",
               "train s", "grad cos", "scoring fwd"]
    lines = ["| run | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for strategy in STRATEGIES:
        m = report["strategies"][strategy]
        for r in (r for r in report["runs"] if r["strategy"] == strategy):
            accs = " | ".join(f"{100 * r['per_target'][t]:.1f}" for t in targets)
            wall = "" if r["train_wall_s"] is None else f"{r['train_wall_s']:.0f}"
            lines.append(
                f"| {strategy} seed {r['seed']} | {m['epochs']} | {accs} | {100 * r['mean']:.2f} | | "
                f"{100 * r['largest']:.1f} | {100 * r['smallest']:.1f} | {wall} | {r['grad_cosine_mean']:.3f} | "
                f"{r['scoring_forwards']} |"
            )
        accs = " | ".join(f"**{100 * m['per_target'][t]:.1f}**" for t in targets)
        lines.append(
            f"| **{strategy}, mean of seeds** | {m['epochs']} | {accs} | **{100 * m['mean']:.2f}** | "
            f"{m['seed_spread_pts']:.1f} | {100 * m['largest']:.1f} | {100 * m['smallest']:.1f} | | | |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
