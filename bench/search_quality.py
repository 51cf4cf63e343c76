"""Benchmark: evolutionary vs random search, device specialisation, search time with a warm cache.

On the ``cifar`` space with a supernet trained briefly on the shared CIFAR-10 subset (train.npz
split 90/10 into train and val; val.npz kept as the untouched test split), and the three shipped
devices' latency tables measured on this machine:

(a) per device and budget, the paper's evolution (no warm start, no predictor) against random search
    drawing from the same FLOPs pools, with the same number of distinct accuracy evaluations,
    averaged over a few search seeds;
(b) for every pair of devices, the subnet chosen for device A timed end to end on device B, next
    to the subnet chosen for B, at the same budget: the devices' latency ranges barely overlap
    (ONNX Runtime is several times faster than eager PyTorch), so a budget is a fraction of each
    device's own range (fastest to slowest subnet) and ``budget_ms`` is B's budget; A's subnet is
    A's choice at the same fraction of A's range;
(c) the wall time of the full search (every budget) for the first device on an empty accuracy
    cache, then for the second device reusing it.

A search's best is the top of its evaluations on the val images it scores on, so part of its lead
is luck on those images. Each chosen subnet is therefore also scored on the val images no search
sees (``*_heldout``), and ``ranking`` says how far the supernet ranks subnets at all: the
correlation between random subnets' accuracies on the searched images and on the held-out ones
(near 0: their differences are noise of the val sample, and no search can beat random by more than
luck).

Writes ``bench/results/search_quality.json``; the supernet, tables and searches live under
``artifacts/bench/search/`` and are reused when the benchmark is run again (the search timings are
always taken afresh, on an emptied cache). Run it alone: the tables and timings are of the shipped
devices, whose OpenMP threads spin while waiting, and another busy process on the same cores slows
them many times over.

    python -m bench.search_quality --quick     # smoke run: minutes, numbers meaningless
    python -m bench.search_quality             # the CPU run reported in docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from elasticvit.config.experiment import DataConfig, ExperimentConfig
from elasticvit.data import InMemoryLoader, load_split, prepare_dataset
from elasticvit.latency import LatencyPredictor, LatencyTable, collect_table, load_device, table_path
from elasticvit.search import AccuracyEvaluator, CacheContext, Constraint, EvaluationCache, evolve, random_search
from elasticvit.search.driver import DeviceSearchResult
from elasticvit.search.run import SEARCH_POOL_SIZE, cache_path, device_measure, run_search
from elasticvit.search.scoring import ScoringData, SupernetScorer, balanced_subset, scoring_data, torch_threads
from elasticvit.space import Arch
from elasticvit.space.pools import FlopsPools
from elasticvit.training import load_supernet, train_supernet
from elasticvit.layout import SUPERNET_NAME
from elasticvit.training.checkpoint import METRICS_NAME
from elasticvit.utils.atomic import write_json
from elasticvit.utils.hashing import sha256_file

ROOT = Path(__file__).resolve().parents[1]
SHARED_CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10"
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "artifacts" / "bench" / "search"
DEVICES = ("torch-cpu-1t", "torch-cpu-2t", "onnx-cpu-1t")
BUDGET_FRACTIONS = [0.2, 0.45, 0.7]
"""Of each device's predicted latency range, from its fastest subnet to its slowest."""
RUN_FIGURES = ("evolution", "random", "evolution_heldout", "random_heldout")
"""What each search seed's pair of runs reports: its best's accuracy on the searched val images and
on the held-out ones."""
RANKING_SUBNETS = 80
"""Random subnets scored on both val halves to tell how far the supernet ranks subnets."""

log = logging.getLogger("bench.search_quality")


class Scale(BaseModel):
    epochs: int
    steps_per_epoch: int
    search_seeds: int
    batch_size: int
    per_class: int | None
    search: dict[str, object]
    latency: dict[str, object]


SCALES = {
    "quick": Scale(
        epochs=1, steps_per_epoch=4, search_seeds=1, batch_size=32, per_class=60,
        search={"population": 6, "generations": 2, "parents": 3, "mutations": 3, "crossovers": 3,
                "val_samples": 30, "calib_batches": 1, "calib_batch_size": 32},
        latency={"warmup": 1, "repeats": 3, "min_time_s": 0.0, "calibration_archs": 3, "validate_archs": 3},
    ),
    "cpu": Scale(
        epochs=30, steps_per_epoch=120, search_seeds=3, batch_size=64, per_class=None,
        search={"population": 12, "generations": 6, "parents": 4, "mutations": 6, "crossovers": 6,
                "patience": 2, "predictor_screen": 4, "predictor_min_points": 40,
                "val_samples": 500, "calib_batches": 2, "calib_batch_size": 100},
        latency={"warmup": 3, "repeats": 10, "calibration_archs": 8, "validate_archs": 10},
    ),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run with a tiny budget")
    parser.add_argument("--data", type=Path, default=SHARED_CIFAR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    tag = "quick" if args.quick else "cpu"
    scale = SCALES[tag]
    work = WORK / tag
    cfg = experiment_config(scale, work)
    prepare_dataset(cfg.data, progress=False)
    train_s = train(cfg)
    tables(cfg)
    # (c) first device on an empty cache, then the second reusing it; the third completes (b)
    shutil.rmtree(cfg.search.output_dir, ignore_errors=True)
    results: dict[str, DeviceSearchResult] = {}
    for device in DEVICES:
        results[device] = run_search(cfg, device)
        r = results[device]
        log.info("%s: searched in %.0f s (%d measured, %d from cache)", device, r.search_s, r.measured, r.cache_hits)

    comparison, ranking = evolution_vs_random(cfg, results, scale.search_seeds)
    report = {
        "evolution_vs_random": comparison,
        "ranking": ranking,
        "specialisation": specialisation(cfg, results),
        "first_device_search_s": round(results[DEVICES[0]].search_s, 1),
        "second_device_search_s": round(results[DEVICES[1]].search_s, 1),
        "setup": {
            "scale": tag, "train_s": train_s, "devices": list(DEVICES),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
            "budgets_ms": {d: [b.budget_ms for b in r.budgets] for d, r in results.items()},
            "search": cfg.search.model_dump(mode="json"),
            "searches": {d: {"search_s": round(r.search_s, 1), "measured": r.measured, "cache_hits": r.cache_hits}
                         for d, r in results.items()},
        },
    }
    name = "search_quality_quick" if args.quick else "search_quality"
    write_json(RESULTS / f"{name}.json", report)
    log.info("%s", json.dumps(report, indent=2))


def experiment_config(scale: Scale, work: Path) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "name": "bench-search",
            "data": DataConfig(source="npz", path=SHARED_CIFAR, val_fraction=0.1, resolution=32,
                               max_per_class=scale.per_class, output_dir=work / "data").model_dump(),
            "space": {"name": "cifar"},
            "training": {
                "epochs": scale.epochs, "batch_size": scale.batch_size, "max_steps_per_epoch": scale.steps_per_epoch,
                "lr": 2e-3, "warmup_epochs": scale.epochs / 10, "probes_per_level": 0, "device": "cpu",
                "checkpoint_every_steps": 50, "output_dir": work / "supernet",
            },
            "sampling": {"strategy": "complexity", "num_levels": 4, "pool_size": 200},
            "latency": {**scale.latency, "devices": list(DEVICES), "output_dir": work / "latency"},
            "search": {**scale.search, "budget_fractions": BUDGET_FRACTIONS, "threads": 1,
                       "output_dir": work / "search", "export_dir": work / "export"},
        }
    )


def train(cfg: ExperimentConfig) -> float | None:
    """Train (resuming an interrupted run); the wall time, or None when it was already trained."""
    out = Path(cfg.training.output_dir)
    if (out / SUPERNET_NAME).exists():
        trained = json.loads((out / METRICS_NAME).read_text())["epochs"]
        if trained != cfg.training.epochs:
            raise SystemExit(f"{out} holds a supernet trained for {trained} epochs, this scale trains "
                             f"{cfg.training.epochs}: move it away to train afresh")
        return None
    started = time.perf_counter()
    result = train_supernet(cfg, Path(cfg.data.output_dir), out)
    log.info("trained %d steps in %.0f s", result.steps, time.perf_counter() - started)
    return round(time.perf_counter() - started, 1)


def tables(cfg: ExperimentConfig) -> None:
    """Each device's latency table, measured here once (collection resumes if interrupted)."""
    _, meta = load_supernet(Path(cfg.training.output_dir) / SUPERNET_NAME)
    for device in DEVICES:
        path = table_path(cfg.latency.output_dir, device)
        if not path.exists():
            started = time.perf_counter()
            collect_table(meta.space, load_device(device), meta.num_classes, cfg.latency, path, progress=False)
            log.info("%s: table collected in %.0f s", device, time.perf_counter() - started)


def evolution_vs_random(
    cfg: ExperimentConfig, results: dict[str, DeviceSearchResult], seeds: int
) -> tuple[list[dict[str, object]], dict[str, float]]:
    """The paper's evolution (nothing from the cache seeds it, no predictor) against random search
    with as many distinct accuracy evaluations, both drawing from the same pools with the same seed;
    and how far the supernet ranks subnets (see the module docstring).

    Each pair runs with ``seeds`` search seeds and the row reports the means (and each run): one
    search's best is the luckiest of its evaluations, so a single pair differs by chance.
    Both read and fill the shared accuracy cache: a cached accuracy is the value a measurement would
    give (same arch, weights and data), so the cache changes the cost, never the outcome.
    """
    supernet_path = Path(cfg.training.output_dir) / SUPERNET_NAME
    supernet, meta = load_supernet(supernet_path)
    space = meta.space
    data = scoring_data(cfg.data.output_dir, cfg.search)
    evaluator = AccuracyEvaluator(SupernetScorer(supernet, data), EvaluationCache(cache_path(cfg.search)),
                                  CacheContext(supernet=sha256_file(supernet_path), data=data.hash),
                                  rank_by=cfg.search.rank_by)
    heldout = SupernetScorer(supernet, heldout_data(cfg, data))
    pools = FlopsPools.cached(space, cfg.sampling.num_levels, meta.num_classes, SEARCH_POOL_SIZE, cfg.search.seed,
                              Path(cfg.search.output_dir) / "pools")

    def sample(rng: np.random.Generator) -> Arch:
        return pools.sample(int(rng.integers(pools.num_levels)), rng)

    plain = cfg.search.model_copy(update={"predictor_screen": 1, "patience": None})
    rows = []
    with torch_threads(cfg.search.threads):
        for device in DEVICES:
            predictor = LatencyPredictor.from_table(LatencyTable.load(table_path(cfg.latency.output_dir, device)), space)
            for i, budget in enumerate(b.budget_ms for b in results[device].budgets):
                admits = Constraint(budget, predictor.predict).admits
                runs: dict[str, list[float]] = {k: [] for k in RUN_FIGURES}
                evaluations = []
                for seed in range(seeds):
                    stream = [cfg.search.seed, i, seed]
                    evo = evolve(space, evaluator, admits, plain, np.random.default_rng(stream),
                                 sample=sample, seeds=[space.smallest()])
                    rnd = random_search(sample, evaluator, admits, evo.evaluations, np.random.default_rng(stream))
                    for name, outcome in (("evolution", evo), ("random", rnd)):
                        runs[name].append(round(evaluator.lookup(outcome.best.arch).accuracy, 4))
                        runs[f"{name}_heldout"].append(round(heldout(outcome.best.arch)[0], 4))
                    evaluations.append(evo.evaluations)
                rows.append({"device": device, "budget_ms": round(budget, 4),
                             **{k: round(float(np.mean(v)), 4) for k, v in runs.items()},
                             **{f"{k}_runs": v for k, v in runs.items()}, "evaluations": evaluations})
                log.info("%s", rows[-1])
        ranking = ranking_signal(sample, evaluator, heldout, np.random.default_rng([cfg.search.seed, RANKING_SUBNETS]))
    log.info("ranking: %s", ranking)
    return rows, ranking


def heldout_data(cfg: ExperimentConfig, searched: ScoringData) -> ScoringData:
    """The val images the searches do not score on, with the searches' BN calibration batches."""
    images, labels = load_split(cfg.data.output_dir, "val")
    searched_images = balanced_subset(np.asarray(labels), cfg.search.val_samples, cfg.search.seed)
    rest = np.setdiff1d(np.arange(len(labels)), searched_images)
    if rest.size == 0:
        raise ValueError("search.val_samples covers the whole val split: no held-out images left")
    loader = InMemoryLoader(images[rest], labels[rest], batch_size=cfg.search.eval_batch_size, shuffle=False,
                            augment=False, drop_last=False)
    return searched.model_copy(update={"val_batches": list(loader), "hash": f"{searched.hash}-heldout"})


def ranking_signal(
    sample: Callable[[np.random.Generator], Arch], evaluator: AccuracyEvaluator, heldout: SupernetScorer,
    rng: np.random.Generator,
) -> dict[str, float]:
    """Correlation of random subnets' accuracies on the searched and on the held-out val images."""
    archs = list({a.id: a for a in (sample(rng) for _ in range(RANKING_SUBNETS))}.values())
    searched = np.array([e.accuracy for e in evaluator.evaluations(archs)])
    other = np.array([heldout(a)[0] for a in archs])
    return {"subnets": len(archs), "pearson": round(float(np.corrcoef(searched, other)[0, 1]), 3),
            "spearman": round(float(np.corrcoef(_ranks(searched), _ranks(other))[0, 1]), 3),
            "searched_sd": round(float(searched.std()), 4), "heldout_sd": round(float(other.std()), 4)}


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks with ties given their mean rank (Spearman's correlation is Pearson's of these)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    for v in np.unique(values):
        ranks[values == v] = ranks[values == v].mean()
    return ranks


def specialisation(cfg: ExperimentConfig, results: dict[str, DeviceSearchResult]) -> list[dict[str, object]]:
    """Every device's chosen subnet per budget fraction, timed end to end on every device.

    ``budget_ms`` is the budget of the device measured on, at the fraction the subnet was chosen
    for (on its own device), so A's row and B's own row at the same budget sit side by side.
    """
    supernet, meta = load_supernet(Path(cfg.training.output_dir) / SUPERNET_NAME)
    rows = []
    for measured_on in DEVICES:
        measure = device_measure(load_device(measured_on), supernet, meta.space, meta.num_classes, cfg.latency)
        for i, budget in enumerate(results[measured_on].budgets):
            for chosen_for in DEVICES:
                choice = results[chosen_for].budgets[i]
                rows.append({
                    "chosen_for": chosen_for, "measured_on": measured_on, "budget_ms": round(budget.budget_ms, 4),
                    "latency_ms": round(measure(Arch.model_validate(choice.arch)), 4),
                    "accuracy": round(choice.val_accuracy, 4), "arch_id": choice.arch_id,
                })
                log.info("%s", rows[-1])
    return rows


if __name__ == "__main__":
    main()
