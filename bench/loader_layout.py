"""Benchmark: supernet training steps with channels-last batches (as shipped) against NCHW batches.

The shipped recipe (``elasticvit/configs/cifar10.yaml``) trained for 40 steps from the same seed,
so both layouts train the same subnets on the same images, alternating ``--reps`` times; the first
5 steps of each run (warm-up) are left out. NCHW is the loader's output made contiguous again.
Writes ``bench/results/loader_layout.json`` with the per-rep seconds and their ratios.

    python -m bench.loader_layout            # about 2 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from elasticvit.config.io import load_config
from elasticvit.data import loader
from elasticvit.training import train_supernet
from elasticvit.training.callbacks import NoOpCallback
from elasticvit.training.records import StepMetrics
from elasticvit.utils.atomic import write_json

from bench.supernet_eval import SHARED_CIFAR, prepare_shared_cifar

ROOT = Path(__file__).resolve().parents[1]
STEPS, WARMUP_STEPS = 40, 5


class StepClock(NoOpCallback):
    def __init__(self) -> None:
        self.times = [time.perf_counter()]

    def on_step(self, record: StepMetrics) -> None:
        self.times.append(time.perf_counter())

    def seconds(self) -> float:
        return self.times[-1] - self.times[1 + WARMUP_STEPS]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    data = prepare_shared_cifar(ROOT / "artifacts" / "bench" / "loader_layout" / "data", SHARED_CIFAR)
    channels_last = loader.InMemoryLoader._batches

    def nchw(self: loader.InMemoryLoader, epoch: int, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in channels_last(self, epoch, start):
            yield x.contiguous(), y

    seconds: dict[str, list[float]] = {"channels_last": [], "nchw": []}
    for rep in range(args.reps):
        for layout, batches in (("channels_last", channels_last), ("nchw", nchw)):
            loader.InMemoryLoader._batches = batches
            cfg = load_config("cifar10", ["training.epochs=1", f"training.max_steps_per_epoch={STEPS}",
                                          "training.warmup_epochs=0.5"])
            clock = StepClock()
            with tempfile.TemporaryDirectory() as out:
                train_supernet(cfg, data_dir=data, out_dir=Path(out), callbacks=[clock])
            seconds[layout].append(clock.seconds())
            print(f"rep {rep} {layout}: {clock.seconds():.2f} s for {STEPS - WARMUP_STEPS} steps", flush=True)
    loader.InMemoryLoader._batches = channels_last
    ratios = [a / b for a, b in zip(seconds["channels_last"], seconds["nchw"], strict=True)]
    result = {"threads": torch.get_num_threads(), "steps_timed": STEPS - WARMUP_STEPS, "seconds": seconds,
              "ratio_channels_last_to_nchw": ratios, "median_ratio": statistics.median(ratios)}
    write_json(ROOT / "bench" / "results" / "loader_layout.json", result)
    print(result)


if __name__ == "__main__":
    main()
