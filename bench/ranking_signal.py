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

It also asks what all subnets share on the val split: the same random archs at two resolutions
(28 and 32), scored image by image, give each split's accuracy gap between the resolutions with a
95 % bootstrap interval over its images: a gap the val split shows and the test split does not is
a property of those images that no statistic computed on them can remove.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from bench.supernet_eval import SHARED_CIFAR, SubnetScorer, prepare_shared_cifar
from bench.supernet_quality import RECORDS, RESULTS, ROOT, WORK, kendall_tau, run_key, spearman, trained_run_dir
from elasticvit.config import load_config
from elasticvit.data import InMemoryLoader, load_split, resize_batch
from elasticvit.layout import supernet_path
from elasticvit.model import Supernet
from elasticvit.space import Arch
from elasticvit.training import accuracy, evaluate_subnet
from elasticvit.training.bn_calibration import preserved_bn_state, recalibrate_bn
from elasticvit.training.checkpoint import load_supernet
from elasticvit.utils.atomic import write_json

SUBNETS = 80
SEED = 7
TRAIN_IMAGES = 2000
PAIRED_RESOLUTIONS = (28, 32)
PAIRED_ARCHS = 20
BOOTSTRAP = 2000

STATISTICS = {  # name -> (field, sign: +1 where higher is better)
    "val_top1": ("val_top1", 1.0),
    "val_cross_entropy": ("val_loss", -1.0),
    "train_top1": ("train_top1", 1.0),
}

Batch = tuple[torch.Tensor, torch.Tensor]

log = logging.getLogger("bench")


def agreement(rows: Sequence[Mapping[str, float]], truth: str = "test_top1") -> dict[str, dict[str, float | None]]:
    """Per statistic, Spearman and Kendall of its ranking (better first) against ``truth``'s."""
    target = [r[truth] for r in rows]
    out = {}
    for name, (field, sign) in STATISTICS.items():
        values = [sign * r[field] for r in rows]
        out[name] = {"spearman": _round(spearman(values, target)), "kendall_tau": _round(kendall_tau(values, target))}
    return out


def gap_with_interval(a: np.ndarray, b: np.ndarray, seed: int = SEED) -> dict[str, float]:
    """Mean of ``a - b`` over images (per image: the share of archs right) with a 95 % bootstrap
    interval, resampling images."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (BOOTSTRAP, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"gap": round(float(diff.mean()), 4), "low": round(float(low), 4), "high": round(float(high), 4)}


@torch.no_grad()
def correct_per_image(
    model: Supernet, arch: Arch, splits: Mapping[str, Sequence[Batch]], calib: Sequence[torch.Tensor]
) -> dict[str, np.ndarray]:
    """Per split, 1 where ``arch`` (BN recalibrated once on ``calib``) classifies the image right, else 0."""
    model.set_active(arch)
    recalibrate_bn(model, (resize_batch(x, arch.resolution) for x in calib))
    model.eval()
    return {k: torch.cat([model(resize_batch(x, arch.resolution)).argmax(-1) == y for x, y in batches]).numpy()
            for k, batches in splits.items()}


def resolution_gaps(model: Supernet, splits: Mapping[str, Sequence[Batch]], calib: Sequence[torch.Tensor]) -> dict:
    """Per split, the accuracy of the same archs at the first paired resolution minus the second."""
    rng = np.random.default_rng([SEED, 1])
    archs = [model.space.sample(rng) for _ in range(PAIRED_ARCHS)]
    share: dict[int, dict[str, np.ndarray]] = {}
    with preserved_bn_state(model):
        for res in PAIRED_RESOLUTIONS:
            right = [correct_per_image(model, a.model_copy(update={"resolution": res}), splits, calib) for a in archs]
            share[res] = {k: np.mean([r[k] for r in right], axis=0) for k in splits}
    first, second = PAIRED_RESOLUTIONS
    return {"archs": PAIRED_ARCHS, "resolutions": list(PAIRED_RESOLUTIONS),
            **{k: gap_with_interval(share[first][k], share[second][k]) for k in splits}}


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
    path = supernet_path(trained_run_dir(cfg))
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
    gaps = resolution_gaps(supernet, {"val": val, "test": test}, scorer.calib)
    report = {
        "supernet": key, "records": str((RECORDS / key).relative_to(ROOT)), "subnets": len(rows), "seed": SEED,
        "val_images": sum(len(y) for _, y in val), "test_images": sum(len(y) for _, y in test),
        "test_spread_pts": round(100 * (max(test_top1) - min(test_top1)), 2),
        "agreement_with_test_top1": agreement(rows), "resolution_gap": gaps, "rows": rows,
    }
    write_json(RESULTS / f"{args.name}.json", report)
    log.info("agreement with test top-1: %s", report["agreement_with_test_top1"])
    log.info("resolution %d minus %d, same archs: %s", *PAIRED_RESOLUTIONS, gaps)


if __name__ == "__main__":
    main()
