"""Benchmark: the searched subnets against plain timm baselines trained for the same wall time.

On the shared CIFAR-10 subset (10k train images, of which 10 % become val; the 2k official-test
images are the test split) it trains the supernet for a fixed number of steps, measures that
training's wall time T, trains each default baseline (resnet18, mobilenetv3_small_100,
mobilenetv3_large_100) for T seconds with the same recipe (``baselines.budget: same_as_supernet``),
times every baseline end to end on each shipped device, collects each device's latency table,
searches each device (budgets: the baselines' own latencies, clipped to what the space can reach),
and compares.

Writes ``bench/results/vs_baselines.json``:
``{"budget_s": T, "devices": {NAME: [{"baseline", "baseline_acc", "baseline_ms",
"subnet_acc_at_latency", "speedup_at_accuracy"}, ...]}, ...}`` and, in
``bench/results/vs_baselines/``, the comparison table and one Pareto plot per device. Work files
live under ``artifacts/bench/vs_baselines/``; a restarted run reuses the finished phases.

    python -m bench.vs_baselines                     # about 5 minutes of training per model
    python -m bench.vs_baselines --supernet-steps 4  # smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from elasticvit.baselines import BaselineResult, Budget, compare_all, markdown_table, run_baseline, write_report
from elasticvit.config import load_config
from elasticvit.config.experiment import ExperimentConfig
from elasticvit.data import prepare_dataset
from elasticvit.latency import LatencyPredictor, collect_table, load_device, table_path
from elasticvit.layout import RESULT_NAME, SUPERNET_NAME, baseline_dir
from elasticvit.search import DeviceSearchResult
from elasticvit.search.run import run_search
from elasticvit.space import load_space
from elasticvit.training import train_supernet
from elasticvit.utils.atomic import write_json

ROOT = Path(__file__).resolve().parents[1]
SHARED_CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10"
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "artifacts" / "bench" / "vs_baselines"
DEVICES = ("torch-cpu-1t", "torch-cpu-2t", "onnx-cpu-1t")

log = logging.getLogger("bench.vs_baselines")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--supernet-steps", type=int, default=16,
                        help="supernet optimizer steps (2 epochs of half this many); about 20 s each on the loaded 2-core machine")
    parser.add_argument("--threads", type=int, default=2, help="torch threads while training")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--output", type=Path, default=RESULTS / "vs_baselines.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)

    cfg = bench_config(args.work, args.supernet_steps)
    loads: dict[str, list[float]] = {}
    with phase("prepare", loads):
        prepare_dataset(cfg.data, progress=False)
    with phase("supernet", loads):
        budget_s = train_or_reuse_supernet(cfg)
    log.info("supernet trained in %.0f s: every baseline gets the same wall time", budget_s)
    baselines = []
    for model in cfg.baselines.models:
        with phase(f"baseline {model}", loads):
            baselines.append(train_or_reuse_baseline(cfg, model, Budget(seconds=budget_s)))
    searches = []
    for device in cfg.latency.devices:
        with phase(f"latency table {device}", loads):
            collect_table(load_space(cfg.space.name), load_device(device), baselines[0].num_classes, cfg.latency,
                          table_path(cfg.latency.output_dir, device), progress=False)
        with phase(f"search {device}", loads):
            searches.append(search_at_baseline_latencies(cfg, device, baselines))
    comparison = compare_all(searches, baselines)
    write_report(comparison, args.output.with_suffix(""))
    write_json(args.output, {
        "budget_s": budget_s,
        "devices": {
            p.device: [
                {
                    "baseline": r.baseline,
                    "baseline_acc": r.baseline_acc,
                    "baseline_ms": r.baseline_ms,
                    "subnet_acc_at_latency": r.subnet_acc_at_latency,
                    "speedup_at_accuracy": r.speedup_at_accuracy,
                }
                for r in comparison.rows if r.device == p.device
            ]
            for p in comparison.paretos
        },
        "rows": [r.model_dump(mode="json") for r in comparison.rows],
        "baselines": {
            b.model: {"val_accuracy": b.val_accuracy, "test_accuracy": b.test_accuracy, "train_s": b.train.train_s,
                      "steps": b.train.steps, "epochs": b.train.epochs, "images_per_s": b.train.images_per_s,
                      "params": b.params, "macs": b.macs}
            for b in baselines
        },
        "searches": {s.device: {"budgets_ms": [b.budget_ms for b in s.budgets], "evaluated": len(s.cloud),
                                "search_s": s.search_s} for s in searches},
        "setup": {"supernet_steps": args.supernet_steps, "threads": args.threads, "load_avg_1m": loads,
                  "torch": torch.__version__, "cpus": os.cpu_count()},
    })
    print(markdown_table(comparison.rows))
    print(f"wrote {args.output}")


def bench_config(work: Path, supernet_steps: int) -> ExperimentConfig:
    """The cifar10 config on the shared subset, shrunk to the benchmark's budget.

    The search is small (few archs, a 300-image val subset) because every evaluation runs the
    supernet itself, which costs seconds per subnet on two loaded cores.
    """
    per_epoch = max(supernet_steps // 2, 1)
    return load_config("cifar10", [
        "data.source=npz", f"data.path={SHARED_CIFAR}", "data.val_fraction=0.1", f"data.output_dir={work / 'data'}",
        "training.epochs=2", f"training.max_steps_per_epoch={per_epoch}", "training.warmup_epochs=0",
        "training.probes_per_level=0", "training.device=cpu", f"training.output_dir={work / 'supernet'}",
        "baselines.budget=same_as_supernet", f"baselines.output_dir={work / 'baselines'}",
        f"latency.devices=[{','.join(DEVICES)}]", f"latency.output_dir={work / 'latency'}",
        "search.population=8", "search.generations=3", "search.parents=4", "search.mutations=4",
        "search.crossovers=4", "search.val_samples=300", "search.calib_batches=2", "search.calib_batch_size=64",
        "search.eval_batch_size=300", f"search.output_dir={work / 'search'}",
    ])


def train_or_reuse_supernet(cfg: ExperimentConfig) -> float:
    """The supernet's training wall time, training it first unless a finished run is on disk."""
    out = Path(cfg.training.output_dir)
    record = out / "bench_wall_time.json"
    if (out / SUPERNET_NAME).exists() and record.exists():
        return float(record.read_text())
    result = train_supernet(cfg, cfg.data.output_dir, out)
    record.write_text(f"{result.wall_time_s}\n")
    return result.wall_time_s


def train_or_reuse_baseline(cfg: ExperimentConfig, model: str, budget: Budget) -> BaselineResult:
    path = baseline_dir(cfg.baselines.output_dir, model) / RESULT_NAME
    if path.exists():
        done = BaselineResult.load(path)
        if done.budget == budget and set(done.latency) == set(cfg.latency.devices):
            return done
    result = run_baseline(cfg, model, cfg.data.output_dir, budget)
    log.info("%s: val %.1f %%, %d steps in %.0f s (%.0f images/s); %s", model, 100 * result.val_accuracy,
             result.train.steps, result.train.train_s, result.train.images_per_s,
             ", ".join(f"{d} {result.latency_ms(d):.2f} ms" for d in result.latency))
    return result


def search_at_baseline_latencies(cfg: ExperimentConfig, device: str, baselines: list[BaselineResult]) -> DeviceSearchResult:
    """Search with one budget per baseline: its latency, clipped to the space's reachable range.

    A budget below the smallest subnet's latency is impossible, one above the largest subnet's is
    the largest; clipping keeps both meaningful.
    """
    space = load_space(cfg.space.name)
    predictor = LatencyPredictor.load(table_path(cfg.latency.output_dir, device), space)
    low, high = predictor.predict(space.smallest()), predictor.predict(space.largest())
    budgets = sorted({round(min(max(b.latency_ms(device), low), high), 4) for b in baselines})
    search = cfg.search.model_copy(update={"budgets_ms": {device: budgets}})
    return run_search(cfg.model_copy(update={"search": search}), device,
                      supernet_path=Path(cfg.training.output_dir) / SUPERNET_NAME, data_dir=cfg.data.output_dir)


@contextlib.contextmanager
def phase(name: str, loads: dict[str, list[float]]) -> Iterator[None]:
    """Log a phase's duration and the 1-minute load average at its start and end (a shared machine)."""
    started = time.perf_counter()
    loads[name] = [os.getloadavg()[0]]
    log.info("%s: start (load %.1f)", name, loads[name][0])
    yield
    loads[name].append(os.getloadavg()[0])
    log.info("%s: %.0f s (load %.1f)", name, time.perf_counter() - started, loads[name][1])


if __name__ == "__main__":
    main()
