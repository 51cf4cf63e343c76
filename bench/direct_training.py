"""Is a middle arch's gap to its standalone figure made up by training it as itself?

    python -m bench.direct_training --steps 600      # about 6 minutes on 2 cores

Reads the supernet ``bench.supernet_quality`` trained with ``configs/cifar10.yaml`` as shipped
(run that first). For each of its named middle archs (``level2``, ``level5``), from the trained
weights, two continuations of the same number of steps, images and learning rate:

- ``direct``: every step trains the arch itself;
- ``level``: every step trains a random member of the arch's FLOPs level, one per step, as the
  supernet's own training does at that level.

Each arch's test top-1 (BN recalibrated, as the search does) before and after, beside the space's
two ends and four random members of the level (what the continuation costs the rest of the space),
goes to ``bench/results/direct_training.json``. If ``direct`` closes the gap and ``level`` does not,
the gap is the arch not being trained as itself; if neither moves, more steps of any kind are not
what the inherited weights lack.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import logging

import numpy as np
import torch

from bench.supernet_eval import SHARED_CIFAR, SubnetScorer, prepare_shared_cifar
from bench.supernet_quality import RESULTS, WORK, run_key, trained_run_dir
from elasticvit.config import load_config
from elasticvit.data import InMemoryLoader, load_split, resize_batch
from elasticvit.layout import supernet_path
from elasticvit.space import Arch
from elasticvit.space.complexity import arch_macs
from elasticvit.training import pools_for
from elasticvit.training.checkpoint import load_supernet
from elasticvit.training.losses import build_losses
from elasticvit.training.recipe import build_optimizer
from elasticvit.utils.atomic import write_json

TARGETS = ("level2", "level5")
LEVEL_PROBES = 4
SEED = 3

log = logging.getLogger("bench")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--lr", type=float, default=2e-4, help="constant: the shipped cosine schedule's value about 80 %% through")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = load_config("cifar10", [])
    run_dir = trained_run_dir(cfg)
    data_dir = prepare_shared_cifar(WORK / "full" / "data", SHARED_CIFAR)
    model, meta = load_supernet(supernet_path(run_dir))
    pools = pools_for(cfg, meta.space, meta.num_classes, run_dir / "pools")
    shipped = json.loads((RESULTS / "supernet_quality.json").read_text())["archs"]
    named = {a["name"]: Arch.parse(a["arch_id"]) for a in shipped}
    scorer = SubnetScorer(data_dir, split="test")
    images, labels = load_split(data_dir, "train")
    loader = InMemoryLoader(images, labels, batch_size=cfg.training.batch_size, shuffle=True, augment=True,
                            flip=cfg.training.hflip, drop_last=True, generator=torch.Generator().manual_seed(SEED))
    batches = list(itertools.islice(itertools.chain.from_iterable(itertools.repeat(loader)), args.steps))
    loss_fn = build_losses(cfg.training, soft_labels=False).anchor
    trained = copy.deepcopy(model.state_dict())
    rng = np.random.default_rng(SEED)
    rows = []
    for target in TARGETS:
        arch = named[target]
        level = pools.level_of(arch_macs(meta.space, arch, meta.num_classes))
        probes = [arch, named["largest"], named["smallest"], *(pools.sample(level, rng) for _ in range(LEVEL_PROBES))]
        model.load_state_dict(trained)
        before = scorer.accuracies(model, probes)
        for mode in ("direct", "level"):
            model.load_state_dict(trained)
            model.train()
            optimizer = build_optimizer(model, cfg.training.model_copy(update={"lr": args.lr}))
            for x, y in batches:
                step_arch = arch if mode == "direct" else pools.sample(level, rng)
                model.set_active(step_arch)
                loss = loss_fn(model(resize_batch(x, step_arch.resolution)), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.training.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.training.grad_clip)
                optimizer.step()
            model.eval()
            after = scorer.accuracies(model, probes)
            rows.append({
                "arch": target, "arch_id": arch.id, "mode": mode, "before": before[0], "after": after[0],
                "largest": [before[1], after[1]], "smallest": [before[2], after[2]],
                "level_members_mean": [round(float(np.mean(before[3:])), 4), round(float(np.mean(after[3:])), 4)],
            })
            log.info("%s", rows[-1])
    report = {"supernet": run_key(cfg), "steps": args.steps, "lr": args.lr, "batch_size": cfg.training.batch_size,
              "level_members": LEVEL_PROBES, "standalone_val": {a["name"]: a.get("standalone_val") for a in shipped if a["name"] in TARGETS}, "rows": rows}
    write_json(RESULTS / "direct_training.json", report)


if __name__ == "__main__":
    main()
