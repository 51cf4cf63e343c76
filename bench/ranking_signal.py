"""How well the search's val split ranks subnets: val top-1 against val cross-entropy.

    python -m bench.ranking_signal        # about 4 minutes on 2 cores

Reads the supernet ``bench.supernet_quality`` trained with ``configs/cifar10.yaml`` as shipped
(run that first). Draws random subnets (uniformly from the space, seeded: none is chosen by any
score, so no statistic starts with a winner's-curse advantage), and scores each after one BN
recalibration, as the search does, on:

- the val split the search ranks on (5 % of the training images: 500 on the shared split),
  top-1 and mean cross-entropy;
- the test split (the 2,000 official test images), top-1: the accuracy a user gets;
- 2,000 training images without augmentation, top-1: a diagnostic (the supernet was trained on them).

Each statistic's rank correlation with test top-1 goes to ``bench/results/ranking_signal.json``;
``search.rank_by`` ranks by the one that agrees best among those a search may use (held-out images).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from bench.supernet_eval import SHARED_CIFAR, SubnetScorer, prepare_shared_cifar
from bench.supernet_quality import RECORDS, RESULTS, ROOT, WORK, kendall_tau, run_key, spearman
from elasticvit.config import load_config
from elasticvit.data import InMemoryLoader, load_split
from elasticvit.layout import supernet_path
from elasticvit.training import accuracy, evaluate_subnet
from elasticvit.training.bn_calibration import preserved_bn_state
from elasticvit.training.checkpoint import load_supernet
from elasticvit.utils.atomic import write_json

SUBNETS = 80
SEED = 7
TRAIN_IMAGES = 2000

STATISTICS = {  # name -> (field, sign: +1 where higher is better)
    "val_top1": ("val_top1", 1.0),
    "val_cross_entropy": ("val_loss", -1.0),
    "train_top1": ("train_top1", 1.0),
}

log = logging.getLogger("bench")


def agreement(rows: Sequence[Mapping[str, float]], truth: str = "test_top1") -> dict[str, dict[str, float | None]]:
    """Per statistic, Spearman and Kendall of its ranking (better first) against ``truth``'s."""
    target = [r[truth] for r in rows]
    out = {}
    for name, (field, sign) in STATISTICS.items():
        values = [sign * r[field] for r in rows]
        out[name] = {"spearman": _round(spearman(values, target)), "kendall_tau": _round(kendall_tau(values, target))}
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subnets", type=int, default=SUBNETS)
    parser.add_argument("--name", default="ranking_signal", help="results file stem")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = load_config("cifar10", [])
    key = run_key(cfg)
    path = supernet_path(WORK / "full" / key / "supernet")
    if not path.exists():
        raise SystemExit(f"{path}: no supernet; run `python -m bench.supernet_quality --part train` first")
    data_dir = prepare_shared_cifar(WORK / "full" / "data", SHARED_CIFAR)
    supernet, _ = load_supernet(path)
    scorer = SubnetScorer(data_dir, split="test")
    test = scorer.batches()
    val = list(InMemoryLoader(*load_split(data_dir, "val"), batch_size=250, shuffle=False))
    images, labels = load_split(data_dir, "train")
    pick = np.random.default_rng(SEED).choice(len(labels), TRAIN_IMAGES, replace=False)
    train = list(InMemoryLoader(images[pick], labels[pick], batch_size=250, shuffle=False))
    rng = np.random.default_rng(SEED)
    archs = list({a.id: a for a in (supernet.space.sample(rng) for _ in range(args.subnets))}.values())
    rows = []
    with preserved_bn_state(supernet):
        for i, arch in enumerate(archs):
            test_top1, _ = evaluate_subnet(supernet, arch, test, scorer.calib)  # recalibrates for all three
            val_top1, val_loss = accuracy(supernet, arch, val)
            train_top1, _ = accuracy(supernet, arch, train)
            rows.append({"arch_id": arch.id, "test_top1": test_top1, "val_top1": val_top1, "val_loss": round(val_loss, 5),
                         "train_top1": train_top1})
            log.info("%d/%d %s", i + 1, len(archs), rows[-1])
    test_top1 = [r["test_top1"] for r in rows]
    report = {
        "supernet": key, "records": str((RECORDS / key).relative_to(ROOT)), "subnets": len(rows), "seed": SEED,
        "val_images": sum(len(y) for _, y in val), "test_images": sum(len(y) for _, y in test),
        "test_spread_pts": round(100 * (max(test_top1) - min(test_top1)), 2),
        "agreement_with_test_top1": agreement(rows), "rows": rows,
    }
    write_json(RESULTS / f"{args.name}.json", report)
    log.info("agreement with test top-1: %s", report["agreement_with_test_top1"])


if __name__ == "__main__":
    main()
