"""Benchmark: training-step cost of the supernet over the extracted static model (cifar space).

For a few archs (the smallest, random ones, the largest) it times one training step (forward,
backward, AdamW step built by timm as in the training loop, batch 128, random data) of the supernet with the arch active (``set_active``
included) and of the arch's extracted static model. The two are alternated step by step in the
same process so that load from other processes hits both alike; the ratio is of the medians.
Writes ``bench/results/supernet_overhead.json``:
``{"archs": [{"arch": ID, "macs": N, "supernet_s": T, "static_s": T, "ratio": R}, ...], ...}``.

    python -m bench.supernet_overhead [--archs 4] [--steps 12] [--batch 128] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from timm.optim import create_optimizer_v2
from torch import nn

from elasticvit.model import Supernet
from elasticvit.space import Arch, arch_macs, load_space
from elasticvit.utils.atomic import write_json

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "supernet_overhead.json"
NUM_CLASSES = 10
WARMUP_STEPS = 2


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="cifar")
    parser.add_argument("--archs", type=int, default=4, help="archs measured: smallest, random ones, largest")
    parser.add_argument("--steps", type=int, default=12, help="timed steps per model and arch")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    space = load_space(args.space)
    rng = np.random.default_rng(args.seed)
    archs = [space.smallest(), *(space.sample(rng) for _ in range(max(args.archs - 2, 0))), space.largest()]
    supernet = Supernet(space, NUM_CLASSES).train()
    results = []
    for arch in archs[: args.archs]:
        supernet_s, static_s = measure(supernet, arch, args.batch, args.steps)
        row = {"arch": arch.id, "macs": arch_macs(space, arch, NUM_CLASSES), "supernet_s": supernet_s,
               "static_s": static_s, "ratio": supernet_s / static_s}
        results.append(row)
        print(f"{row['macs'] / 1e6:7.2f} M MACs  supernet {supernet_s * 1e3:8.1f} ms  static {static_s * 1e3:8.1f} ms"
              f"  ratio {row['ratio']:.3f}  {arch.id}", flush=True)
    write_json(args.output, {
        "space": space.name, "space_hash": space.hash, "batch": args.batch, "steps": args.steps,
        "threads": args.threads, "torch": torch.__version__, "archs": results,
    })
    print(f"wrote {args.output}")


def measure(supernet: Supernet, arch: Arch, batch: int, steps: int) -> tuple[float, float]:
    """Median seconds of one training step: the supernet running ``arch``, then its static model."""
    static = supernet.extract(arch).train()
    x = torch.randn(batch, 3, arch.resolution, arch.resolution)
    y = torch.randint(0, NUM_CLASSES, (batch,))
    super_step = _train_step(supernet, x, y, before=lambda: supernet.set_active(arch))
    static_step = _train_step(static, x, y)
    for _ in range(WARMUP_STEPS):
        super_step()
        static_step()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(steps):
        times[0].append(super_step())
        times[1].append(static_step())
    return statistics.median(times[0]), statistics.median(times[1])


def _train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, before: Callable[[], None] = lambda: None):
    optimizer = create_optimizer_v2(model, opt="adamw", lr=1e-4, weight_decay=0.05)  # as the training loop

    def step() -> float:
        start = time.perf_counter()
        before()
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return time.perf_counter() - start

    return step


if __name__ == "__main__":
    main()
