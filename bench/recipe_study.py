"""Controlled supernet-recipe runs: one change at a time against a base recipe, at equal wall time.

Every variant is ``elasticvit/configs/cifar10.yaml`` with the study's ``BASE`` sampler settings plus a few
``section.key=value`` overrides (a new variant is one line in ``VARIANTS``), trained on the
shared CIFAR-10 subset (train.npz, 5 % held out for the in-training probes) from the same seed. To
compare recipes at equal cost, each run's number of steps is set from a cost model measured at the
start (seconds of one forward/backward pass of batch 128 as a linear function of the subnet's MACs;
a no-grad scoring forward counts a third) and the variant's own sampler plans, so a recipe that
trains fewer subnets per step gets more steps. Each trained supernet is then scored on val.npz (the
official test images, never seen in training or selection): largest, smallest and a fixed set of
random subnets (the same for every variant), BN recalibrated per subnet as the search does.

Writes ``bench/results/recipe_study.json`` and ``.md``; runs live under ``artifacts/bench/recipe/``
and a finished run is reused when the study is restarted.

    python -m bench.recipe_study --list                    # the variants
    python -m bench.recipe_study --budget-s 480 base uniform ...
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel
from timm.optim import create_optimizer_v2

from elasticvit.baselines.train import Budget, seeded, train_baseline
from elasticvit.config.experiment import ExperimentConfig
from elasticvit.config.io import load_config
from elasticvit.data import load_split, read_manifest
from elasticvit.model import Supernet, SubnetModel, load_subnet, save_subnet
from elasticvit.sampling import build_sampler
from elasticvit.search.scoring import top1
from elasticvit.space import Arch, SearchSpace, load_space
from elasticvit.space.complexity import arch_macs
from elasticvit.training import load_supernet, pools_for, train_supernet
from elasticvit.utils.atomic import write_json, write_text

from bench.supernet_eval import LogProgress, SubnetScorer, prepare_shared_cifar
from bench.supernet_quality import Resized

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "artifacts" / "bench" / "recipe"
RANDOM_SUBNETS = 10
SCORING_COST = 1 / 3  # a no-grad forward against a forward/backward pass

# The study's base is the recipe it started from (the performance sampler at K=3, banks re-scored
# every 200 steps), pinned here so that the rows stay reproducible after the shipped default moved.
BASE = ["sampling.strategy=performance", "sampling.subnets_per_step=3", "sampling.rescore_every=200"]

# name -> (what changes against the base, overrides applied after BASE)
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "base": ("performance sampler, K=3 (the earlier default)", []),
    "uniform": ("sandwich: largest + 2 random + smallest, students distilled from the largest",
                ["sampling.strategy=uniform", "sampling.num_random=2"]),
    "uniform-2": ("sandwich without the middle: largest + smallest", ["sampling.strategy=uniform", "sampling.num_random=0"]),
    "sandwich-3": ("sandwich: largest + 1 random + smallest", ["sampling.strategy=uniform", "sampling.num_random=1"]),
    "perf-k1": ("performance, 1 anchor of the level + its smallest", ["sampling.subnets_per_step=1"]),
    "shipped": ("elasticvit/configs/cifar10.yaml as shipped (perf-k1, banks re-scored every 500 steps)",
                ["sampling.subnets_per_step=1", "sampling.rescore_every=500"]),
    "perf-k1-no-kd": ("perf-k1 without in-place distillation (what the quickstart's runs on digits found)",
                      ["sampling.subnets_per_step=1", "training.distillation=none"]),
    "no-kd-lr4e-3": ("perf-k1-no-kd at twice the learning rate (4e-3)",
                     ["sampling.subnets_per_step=1", "training.distillation=none", "training.lr=0.004"]),
    "no-kd-lr1e-3": ("perf-k1-no-kd at half the learning rate (1e-3)",
                     ["sampling.subnets_per_step=1", "training.distillation=none", "training.lr=0.001"]),
    "no-kd-zero-init": ("perf-k1-no-kd with every residual block starting as the identity (BigNAS's zero-init)",
                        ["sampling.subnets_per_step=1", "training.distillation=none", "training.zero_init_last=true"]),
    "no-kd-ema": ("perf-k1-no-kd, subnets scored from an exponential moving average of the weights (decay 0.99)",
                  ["sampling.subnets_per_step=1", "training.distillation=none", "training.ema_decay=0.99"]),
    "no-kd-wd0.01": ("perf-k1-no-kd with a fifth of the weight decay (AdamW 0.01 rather than 0.05)",
                     ["sampling.subnets_per_step=1", "training.distillation=none", "training.weight_decay=0.01"]),
    "no-kd-warmup3": ("perf-k1-no-kd with three epochs of warm-up rather than 0.8 (of 8)",
                      ["sampling.subnets_per_step=1", "training.distillation=none", "training.warmup_epochs=3"]),
    "no-kd-drop-path": ("perf-k1-no-kd with stochastic depth 0.1 (timm drop-path) on the residual blocks",
                        ["sampling.subnets_per_step=1", "training.distillation=none", "training.drop_path=0.1"]),
    "perf-k1-no-kd-seed1": ("perf-k1-no-kd from another seed (weights, data order, sampler and pools)",
                            ["sampling.subnets_per_step=1", "training.distillation=none", "training.seed=1",
                             "sampling.seed=1"]),
    "no-kd-warmup3-seed1": ("no-kd-warmup3 from another seed (weights, data order, sampler and pools)",
                            ["sampling.subnets_per_step=1", "training.distillation=none", "training.warmup_epochs=3",
                             "training.seed=1", "sampling.seed=1"]),
    "perf-k1-teacher": ("perf-k1, students distilled from a subnet trained alone first (a third of the budget)",
                        ["sampling.subnets_per_step=1"]),
}

# Variants whose students learn from an external teacher: a mid-sized subnet of the space (the
# shape of ../shared/ENVIRONMENT.md's static hybrid) trained alone first. Its training and its
# forward in every supernet step are charged to the run's budget, so the supernet gets fewer steps.
TEACHER_ARCH = "r32-s24:k3-c24:k3e3,k3e3-c40:k3e4,k3e4-t64:m2v1,m2v1-t128:m2v1,m2v1,m2v1"
TEACHER_SHARE = {"perf-k1-teacher": 1 / 3}


class RunRecord(BaseModel):
    name: str
    change: str
    overrides: list[str]
    steps: int
    est_step_s: float
    train_wall_s: float
    subnets_per_step: float
    scoring_forwards: int
    teacher_val: float | None = None
    teacher_steps: int = 0
    largest: float
    smallest: float
    random_mean: float
    random_min: float
    random_max: float
    random_accs: list[float]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", help="variant names (default: all)")
    parser.add_argument("--budget-s", type=float, default=480.0, help="estimated training seconds per run")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    if args.list:
        for name, (change, overrides) in VARIANTS.items():
            print(f"{name:12s} {change}  {' '.join(overrides)}")
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; known: {list(VARIANTS)}")
    data_dir = prepare_shared_cifar(WORK / "data")
    results_path = RESULTS / "recipe_study.json"
    records, cost = {}, None
    if results_path.exists():
        earlier = json.loads(results_path.read_text())
        records = {r["name"]: r for r in earlier["runs"]}
        # one cost model for every row: re-measuring it on a noisy machine would give a later
        # variant a different number of steps for the same budget
        cost = earlier["cost_model_s"]["per_pass"], earlier["cost_model_s"]["per_mmac"]
        if earlier["budget_s"] != args.budget_s:
            raise SystemExit(f"{results_path} holds runs at --budget-s {earlier['budget_s']}; move it away to "
                             f"start a study at {args.budget_s}")
    if cost is None:
        torch.manual_seed(0)
        cost = measure_cost_model(load_space("cifar"), read_manifest(data_dir).num_classes)
    log.info("cost model: %.3f s + %.4f s per M MACs per pass", *cost)
    for name in args.variants or list(VARIANTS):
        record = run_variant(name, args.budget_s, cost, data_dir)
        records[name] = record.model_dump()
        report = {"budget_s": args.budget_s, "cost_model_s": {"per_pass": cost[0], "per_mmac": cost[1]},
                  "runs": list(records.values())}
        write_json(results_path, report)
        write_text(RESULTS / "recipe_study.md", markdown_table(report))
    log.info("\n%s", markdown_table(report))


log = logging.getLogger("bench.recipe_study")


def variant_config(name: str, steps_per_epoch: int, epochs: int, extra: Sequence[str] = ()) -> ExperimentConfig:
    _, overrides = VARIANTS[name]
    return load_config("cifar10", [
        # the run's length first, so that a variant may override its warm-up
        *BASE, f"training.epochs={epochs}", f"training.warmup_epochs={min(1.0, epochs / 10)}", *overrides, *extra,
        f"training.max_steps_per_epoch={steps_per_epoch}",
        "training.checkpoint_every_steps=100", "training.probes_per_level=0",
        f"training.output_dir={WORK / name / 'supernet'}",
    ])


def measure_cost_model(space: SearchSpace, num_classes: int, batch: int = 128) -> tuple[float, float]:
    """(seconds per forward/backward pass, seconds per million MACs), fitted on the smallest and
    largest subnets trained for a few steps with the recipe's optimizer."""
    net = Supernet(space, num_classes).train()
    opt = create_optimizer_v2(net, opt="adamw", lr=1e-3)
    points = []
    for arch in (space.smallest(), space.largest()):
        net.set_active(arch)
        x = torch.randn(batch, 3, arch.resolution, arch.resolution)
        y = torch.randint(0, num_classes, (batch,))
        times = []
        for _ in range(4):
            started = time.perf_counter()
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
            times.append(time.perf_counter() - started)
        points.append((arch_macs(space, arch, num_classes) / 1e6, float(np.median(times[1:]))))
    (m0, t0), (m1, t1) = points
    slope = (t1 - t0) / (m1 - m0)
    return t0 - slope * m0, slope


def estimated_step_s(cfg: ExperimentConfig, cost: tuple[float, float], num_classes: int, work: Path) -> tuple[float, float]:
    """(seconds per step, subnets per step) of ``cfg``'s sampler, simulated over 600 planned steps
    with a scorer that costs nothing (the scores are random: only how many forwards it asks matters)."""
    space = load_space(cfg.space.name)
    pools = pools_for(cfg, space, num_classes, work / "pools")
    sampler = build_sampler(cfg.sampling, space, pools, num_classes, total_steps=3000)
    rng = np.random.default_rng(0)
    seconds, subnets, steps = 0.0, 0, 600

    def scorer(archs: list[Arch]) -> list[float]:
        nonlocal seconds
        seconds += sum(SCORING_COST * (cost[0] + cost[1] * arch_macs(space, a, num_classes) / 1e6) for a in archs)
        return list(rng.normal(size=len(archs)))

    for step in range(steps):
        plan = sampler.plan(step, scorer)
        subnets += len(plan.archs)
        seconds += sum(cost[0] + cost[1] * arch_macs(space, a, num_classes) / 1e6 for a in plan.archs)
    return seconds / steps, subnets / steps


def run_variant(name: str, budget_s: float, cost: tuple[float, float], data_dir: Path) -> RunRecord:
    out = WORK / name
    cached = out / "record.json"
    if cached.exists():
        return RunRecord.model_validate_json(cached.read_text())
    num_classes = read_manifest(data_dir).num_classes
    probe_cfg = variant_config(name, 1, 2, ["training.warmup_epochs=0"])  # plans the sampler only
    step_s, per_step = estimated_step_s(probe_cfg, cost, num_classes, out)
    train_len = len(load_split(data_dir, "train")[1])
    steps_per_epoch = train_len // probe_cfg.training.batch_size
    extra, teacher_val, teacher_steps = [], None, 0
    if name in TEACHER_SHARE:
        space = load_space(probe_cfg.space.name)
        teacher_pass_s = cost[0] + cost[1] * arch_macs(space, Arch.parse(TEACHER_ARCH), num_classes) / 1e6
        teacher_steps = max(2, round(TEACHER_SHARE[name] * budget_s / teacher_pass_s))
        teacher_path, teacher_val = train_teacher(probe_cfg, space, teacher_steps, steps_per_epoch, data_dir,
                                                  out / "teacher")
        extra = [f"training.teacher={teacher_path}"]
        budget_s *= 1 - TEACHER_SHARE[name]
        step_s += SCORING_COST * teacher_pass_s
    steps = max(2, round(budget_s / step_s))
    epochs = max(2, math.ceil(steps / steps_per_epoch))
    steps_per_epoch = round(steps / epochs)
    cfg = variant_config(name, steps_per_epoch, epochs, extra)
    log.info("%s: %.2f s/step estimated, %.1f subnets/step -> %d epochs x %d steps", name, step_s, per_step, epochs,
             steps_per_epoch)
    started = time.perf_counter()
    result = train_supernet(cfg, data_dir, out / "supernet", [LogProgress(name, every=50)])
    wall = time.perf_counter() - started
    model, meta = load_supernet(result.checkpoint)
    space = load_space(cfg.space.name)
    scorer = SubnetScorer(data_dir, split="test")
    rng = np.random.default_rng(20261202)
    randoms = [space.sample(rng) for _ in range(RANDOM_SUBNETS)]
    accs = scorer.accuracies(model, [space.largest(), space.smallest(), *randoms])
    record = RunRecord(
        name=name, change=VARIANTS[name][0], overrides=VARIANTS[name][1], steps=result.steps,
        est_step_s=round(step_s, 3), train_wall_s=round(wall, 1) if result.resumed_from_step == 0 else -1.0,
        subnets_per_step=round(per_step, 2), scoring_forwards=result.scoring_forwards,
        teacher_val=teacher_val, teacher_steps=teacher_steps, largest=accs[0], smallest=accs[1], random_mean=float(np.mean(accs[2:])), random_min=min(accs[2:]),
        random_max=max(accs[2:]), random_accs=accs[2:],
    )
    write_text(cached, record.model_dump_json(indent=1))
    return record


def train_teacher(
    cfg: ExperimentConfig, space: SearchSpace, steps: int, steps_per_epoch: int, data_dir: Path, out: Path
) -> tuple[Path, float]:
    """``TEACHER_ARCH`` trained alone for ``steps`` with the supernet's recipe; (subnet file, val top-1)."""
    path = out / "teacher.pt"
    epochs = max(1, math.ceil(steps / steps_per_epoch))
    recipe = cfg.training.model_copy(update={"epochs": epochs, "max_steps_per_epoch": round(steps / epochs),
                                             "warmup_epochs": min(1.0, epochs / 10)})
    if not path.exists():
        with seeded(recipe.seed):
            subnet = SubnetModel(space, Arch.parse(TEACHER_ARCH), read_manifest(data_dir).num_classes)
        log.info("teacher %s: %d epochs x %d steps", TEACHER_ARCH, epochs, recipe.max_steps_per_epoch)
        train_baseline(Resized(subnet), *load_split(data_dir, "train"), recipe, Budget(epochs=epochs),
                       name="teacher", callbacks=[LogProgress("teacher", every=50)])
        save_subnet(path, subnet)
    scorer = SubnetScorer(data_dir, split="test")
    return path, top1(load_subnet(path), scorer.batches(), Arch.parse(TEACHER_ARCH).resolution)


def markdown_table(report: dict) -> str:
    lines = [
        f"Equal estimated training time per run: {report['budget_s']:.0f} s. Top-1 on val.npz (2,000 images).",
        "",
        "| run | change | steps | subnets/step | train s | largest | smallest | random mean (min-max) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["runs"]:
        lines.append(
            f"| {r['name']} | {r['change']} | {r['steps']} | {r['subnets_per_step']} | {r['train_wall_s']:.0f} | "
            f"{100 * r['largest']:.1f} | {100 * r['smallest']:.1f} | {100 * r['random_mean']:.1f} "
            f"({100 * r['random_min']:.1f}-{100 * r['random_max']:.1f}) |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
