"""The supernet training loop: one optimizer step per mini-batch over the sampler's subnets.

Per step the planned subnets run forward/backward one after another on the same batch, their
gradients accumulating (anchors first: their mean prediction is the students' in-place teacher);
then gradients are averaged over ranks, clipped, and applied once. Every epoch the probe subnets are
validated with recalibrated BN and a checkpoint is written atomically; a restarted run resumes from
the last one and ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from timm.utils import ModelEmaV3
from torch import Tensor, nn

from elasticvit.config.experiment import ExperimentConfig
from elasticvit.data import InMemoryLoader, load_split, read_manifest, resize_batch
from elasticvit.layout import SUPERNET_NAME
from elasticvit.model import Supernet
from elasticvit.sampling import Role, StepPlan, build_sampler
from elasticvit.space import Arch, SearchSpace, load_space
from elasticvit.space.pools import FlopsPools
from elasticvit.training import distributed as dist
from elasticvit.training.bn_calibration import batch_statistics
from elasticvit.training.callbacks import TrainCallback
from elasticvit.training.checkpoint import (
    CHECKPOINT_NAME,
    HISTORY_NAME,
    METRICS_NAME,
    SupernetMeta,
    capture_rng,
    load_resumable,
    restore_rng,
    save_checkpoint,
    save_supernet,
    training_fingerprint,
)
from elasticvit.training.evaluation import (
    per_level_accuracy,
    select_probes,
    validate_probes,
)
from elasticvit.training.losses import build_losses, ensemble_target
from elasticvit.training.recipe import Precision, build_mixup, build_optimizer, build_scheduler
from elasticvit.training.records import (
    EpochMetrics,
    ProbeResult,
    ReplicaFingerprint,
    StepMetrics,
    TrainResult,
)
from elasticvit.training.teacher import load_teacher
from elasticvit.training.telemetry import GradientTelemetry
from elasticvit.utils.atomic import write_json
from elasticvit.utils.locking import exclusive_dir

_EVAL_BATCH = 256


def train_supernet(
    cfg: ExperimentConfig, data_dir: Path, out_dir: Path, callbacks: Sequence[TrainCallback] = ()
) -> TrainResult:
    """Train the supernet of ``cfg`` on the prepared data in ``data_dir``; write to ``out_dir``.

    Resumes when ``out_dir`` holds a checkpoint of the same configuration. Under ``torchrun`` every
    rank calls this; callbacks run on rank 0 only. The final supernet is ``out_dir/supernet.pt``.
    """
    ctx = dist.setup(cfg.training.device)
    try:
        # rank 0 holds the directory for all ranks: the others only read what it wrote
        with exclusive_dir(out_dir, "train") if ctx.is_main else contextlib.nullcontext():
            return _Trainer(cfg, Path(data_dir), Path(out_dir), callbacks, ctx).run()
    finally:
        dist.shutdown(ctx)


def pools_for(cfg: ExperimentConfig, space: SearchSpace, num_classes: int, cache_dir: Path) -> FlopsPools:
    """The FLOPs pools of a run: a function of the config only, so every rank has the same; built
    once and cached in ``cache_dir`` (a resumed run or the search stage reloads them)."""
    s = cfg.sampling
    return FlopsPools.cached(space, s.num_levels, num_classes, s.pool_size, s.seed, cache_dir)


class _Trainer:
    def __init__(
        self,
        cfg: ExperimentConfig,
        data_dir: Path,
        out_dir: Path,
        callbacks: Sequence[TrainCallback],
        ctx: dist.DistContext,
    ) -> None:
        self.cfg, self.tc, self.out_dir, self.ctx = cfg, cfg.training, out_dir, ctx
        self.callbacks = list(callbacks) if ctx.is_main else []
        self.device = ctx.device
        self.num_classes = read_manifest(data_dir).num_classes
        self._load_data(data_dir)
        self.space = load_space(cfg.space.name)
        self.pools = pools_for(cfg, self.space, self.num_classes, out_dir / "pools")
        self.total_steps = self.tc.epochs * self.steps_per_epoch
        self.sampler = build_sampler(cfg.sampling, self.space, self.pools, self.num_classes, self.total_steps)
        self.probes = select_probes(self.space, self.pools, self.num_classes, self.tc.probes_per_level, self.tc.seed)
        # drop-path (torch) and Mixup (numpy) draw from the global generators: seed them, and save
        # their states in checkpoints
        torch.manual_seed(self.tc.seed)
        np.random.seed(self.tc.seed)
        self._build_model()
        layout = {
            "weights": [[name, list(t.shape)] for name, t in self.model.state_dict().items()],
            "groups": [[len(g["params"]), g.get("weight_decay")] for g in self.optimizer.param_groups],
        }
        self.fingerprint = training_fingerprint(cfg, self.space, layout)
        self.telemetry = GradientTelemetry(self.params)
        self.epoch, self.batch_in_epoch, self.step = 0, 0, 0
        self.history: list[dict[str, float]] = []
        self.train_history: list[dict[str, float]] = []  # epoch means of the step metrics
        self.final_probes: list[ProbeResult] = []
        self.progress: dict[str, Any] = {
            "grad_cos_sum": 0.0, "grad_cos_count": 0, "scoring_forwards": 0, "archs_digest": "",
            "epoch_sums": {},  # metric -> [sum, count] over the current epoch's steps
        }
        self.resumed_from = self._resume()

    # -- setup ----------------------------------------------------------------------------------

    def _load_data(self, data_dir: Path) -> None:
        images, labels = load_split(data_dir, "train")
        world = self.ctx.world_size
        if self.tc.batch_size % world:
            raise ValueError(f"training.batch_size {self.tc.batch_size} is not divisible by {world} ranks")
        per_rank = self.tc.batch_size // world
        if self.tc.mixup_alpha > 0 and per_rank % 2:
            raise ValueError(f"Mixup needs an even batch per rank, got {per_rank}")
        steps = (len(labels) // world) // per_rank
        if steps == 0:
            raise ValueError(f"{len(labels)} training images do not fill one batch of {self.tc.batch_size}")
        self.steps_per_epoch = min(steps, self.tc.max_steps_per_epoch or steps)
        # each rank trains on its own shard of the training set
        self.train_images, self.train_labels = images[self.ctx.rank :: world], labels[self.ctx.rank :: world]
        self.per_rank_batch = per_rank
        calib = InMemoryLoader(
            images, labels, batch_size=self.tc.batch_size, shuffle=True, augment=False, drop_last=False,
            generator=torch.Generator().manual_seed(self.tc.seed), device=self.device,
        )
        self.calib_batches = [x for x, _ in itertools.islice(calib, self.tc.bn_calib_batches)]
        val_images, val_labels = load_split(data_dir, "val")
        val = InMemoryLoader(val_images, val_labels, batch_size=_EVAL_BATCH, shuffle=False, device=self.device)
        self.val_batches = list(val)

    def _build_model(self) -> None:
        tc = self.tc
        self.model = Supernet(self.space, self.num_classes, drop_path=tc.drop_path, zero_init_last=tc.zero_init_last,
                              switchable_scales=tc.switchable_scales).to(self.device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.forward = torch.compile(self.model) if tc.compile else self.model
        self.optimizer = build_optimizer(self.model, tc)
        # per-update schedule: warm-up steps, then a cosine over the remaining steps
        self.scheduler = build_scheduler(self.optimizer, tc, self.total_steps, round(tc.warmup_epochs * self.steps_per_epoch))
        self.ema = ModelEmaV3(self.model, decay=tc.ema_decay) if tc.ema_decay else None
        self.mixup = build_mixup(tc, self.num_classes)
        self.losses = build_losses(tc, soft_labels=self.mixup is not None, steps_per_epoch=self.steps_per_epoch)
        self.teacher = load_teacher(tc.teacher, self.num_classes, self.device) if tc.teacher else None
        self.precision = Precision(self.device, tc)

    # -- run --------------------------------------------------------------------------------------

    def run(self) -> TrainResult:
        started = time.perf_counter()
        self.model.train()
        while self.epoch < self.tc.epochs:
            self._train_epoch()
            self._end_epoch()
        return self._finish(time.perf_counter() - started)

    def _train_epoch(self) -> None:
        seed = int(np.random.SeedSequence([self.tc.seed, self.epoch]).generate_state(1)[0])
        loader = InMemoryLoader(
            self.train_images, self.train_labels, batch_size=self.per_rank_batch, shuffle=True, augment=True,
            flip=self.tc.hflip, drop_last=True, generator=torch.Generator().manual_seed(seed), device=self.device,
        )
        # a resumed epoch replays the loader's draws up to where the checkpoint left it
        for i, (x, y) in enumerate(itertools.islice(loader, self.steps_per_epoch)):
            if i < self.batch_in_epoch:
                continue
            self.step += 1
            self.batch_in_epoch = i + 1
            record = self._train_step(x, y)
            for cb in self.callbacks:
                cb.on_step(record)
            every = self.tc.checkpoint_every_steps
            if every and self.step % every == 0 and self.batch_in_epoch < self.steps_per_epoch:
                self._checkpoint()

    def _train_step(self, x: Tensor, y: Tensor) -> StepMetrics:
        plan = self.sampler.plan(self.step - 1, lambda archs: self._score(archs, x, y))
        inputs, targets = self.mixup(x, y) if self.mixup else (x, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.telemetry.begin_step()
        losses, anchor_logits = self._accumulate(plan, inputs, targets)
        if plan.unscored:
            self.sampler.observe(plan, self._step_scores(plan, anchor_logits, x, y))
        dist.average_gradients(self.params, self.ctx)
        self.precision.scaler.unscale_(self.optimizer)
        metrics = self.telemetry.end_step()
        if self.tc.grad_clip:
            nn.utils.clip_grad_norm_(self.params, self.tc.grad_clip)
        self.precision.scaler.step(self.optimizer)
        self.precision.scaler.update()
        self.scheduler.step_update(self.step)
        if self.ema is not None:
            self.ema.update(self.model, step=self.step)
        metrics.update(losses, lr=self.optimizer.param_groups[0]["lr"], scoring_forwards=float(plan.scoring_forwards))
        self._track(plan, metrics)
        return StepMetrics(
            step=self.step, total_steps=self.total_steps, epoch=self.epoch, level=plan.level, arch_ids=[a.id for a in plan.archs], metrics=metrics
        )

    def _accumulate(self, plan: StepPlan, x: Tensor, targets: Tensor) -> tuple[dict[str, float], list[Tensor]]:
        """Forward/backward every planned subnet; gradients add up, each subnet weighted 1/n.
        The mean losses, and the anchors' logits (detached, in plan order)."""
        distill = self.losses.student(self.step)
        teacher_probs = self._teacher_probs(x) if distill is not None else None
        anchor_logits: list[Tensor] = []
        sums = {Role.ANCHOR: [], Role.STUDENT: []}
        for sub in plan.subnets:
            self.model.set_active(sub.arch)
            with self.precision.autocast():
                logits = self.forward(resize_batch(x, sub.arch.resolution)).float()
            if sub.role == Role.ANCHOR or distill is None:
                loss = self.losses.anchor(logits, targets)
            else:
                soft = teacher_probs if teacher_probs is not None else ensemble_target(anchor_logits)
                loss = distill(logits, soft)
            if sub.role == Role.ANCHOR:
                anchor_logits.append(logits.detach())
            self.precision.scaler.scale(loss / len(plan.subnets)).backward()
            self.telemetry.after_backward()
            sums[sub.role].append(float(loss.detach()))
        out = {f"loss_{role.value}": float(np.mean(v)) for role, v in sums.items() if v}
        out["loss"] = float(np.mean(sums[Role.ANCHOR] + sums[Role.STUDENT]))
        return out, anchor_logits

    @torch.no_grad()
    def _step_scores(self, plan: StepPlan, anchor_logits: list[Tensor], x: Tensor, y: Tensor) -> list[float]:
        """``_score`` of ``plan.unscored`` from their training forward: the batch and weights a
        separate no-grad forward would see, so the scores are the same at no cost. With mixup that
        forward saw mixed images, so they get the separate forward after all."""
        if self.mixup:
            return self._score(plan.unscored, x, y)
        anchors = [s.arch.id for s in plan.subnets if s.role == Role.ANCHOR]
        return self._scores([F.cross_entropy(anchor_logits[anchors.index(a.id)], y) for a in plan.unscored])

    @torch.no_grad()
    def _teacher_probs(self, x: Tensor) -> Tensor | None:
        if self.teacher is None:
            return None
        with self.precision.autocast():
            return F.softmax(self.teacher(x).float(), dim=-1)

    @torch.no_grad()
    def _score(self, archs: Sequence[Arch], x: Tensor, y: Tensor) -> list[float]:
        """Minus the cross-entropy of each arch on the (un-mixed) batch, averaged over ranks."""
        losses = []
        with batch_statistics(self.model):
            for arch in archs:
                self.model.set_active(arch)
                with self.precision.autocast():
                    logits = self.forward(resize_batch(x, arch.resolution)).float()
                losses.append(F.cross_entropy(logits, y))
        return self._scores(losses)

    def _scores(self, losses: list[Tensor]) -> list[float]:
        """Bank scores from per-arch cross-entropies: minus each, averaged over ranks (so the banks
        stay identical everywhere)."""
        mean = dist.mean_over_ranks(torch.stack(losses), self.ctx)
        return [-float(v) for v in mean.cpu()]

    def _track(self, plan: StepPlan, metrics: dict[str, float]) -> None:
        progress = self.progress
        if "grad_cos_prev_step" in metrics:
            progress["grad_cos_sum"] += metrics["grad_cos_prev_step"]
            progress["grad_cos_count"] += 1
        progress["scoring_forwards"] += plan.scoring_forwards
        for key, value in metrics.items():
            total, count = progress["epoch_sums"].get(key, (0.0, 0))
            progress["epoch_sums"][key] = [total + value, count + 1]
        ids = "\n".join([progress["archs_digest"], *(a.id for a in plan.archs)])
        progress["archs_digest"] = hashlib.sha256(ids.encode()).hexdigest()

    # -- epochs, checkpoints ----------------------------------------------------------------------

    def _end_epoch(self) -> None:
        results = self._validate()
        per_level = per_level_accuracy(results)
        self.history.append(per_level)
        self.final_probes = results
        self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        train = {k: total / count for k, (total, count) in self.progress["epoch_sums"].items()}
        self.train_history.append(train)
        self.progress["epoch_sums"] = {}
        if self.ctx.is_main:
            self._write_history()
        record = EpochMetrics(epoch=self.epoch, step=self.step, probes=results, per_level=per_level, train=train)
        path = self._checkpoint()
        for cb in self.callbacks:
            cb.on_epoch(record)
            cb.on_checkpoint(path, self.step)

    def _write_history(self) -> None:
        """One row per finished epoch (probe accuracies, train loss and lr), rewritten whole so a
        resumed run never duplicates a row; DVC plots it, the Prefect task logs it."""
        rows = [
            {"epoch": i + 1, **acc, **{k: v for k, v in train.items() if k in ("loss", "lr")}}
            for i, (acc, train) in enumerate(zip(self.history, self.train_history, strict=True))
        ]
        write_json(self.out_dir / HISTORY_NAME, rows)

    def _validate(self) -> list[ProbeResult]:
        """Rank 0 validates (the others would compute the same); the result is shared."""
        model = self.ema.module if self.ema is not None else self.model
        results = None
        if self.ctx.is_main:
            results = validate_probes(model, self.probes, self.val_batches, self.calib_batches, self.precision.autocast())
        self.model.train()
        return dist.broadcast_object(results, self.ctx)

    def _checkpoint(self) -> Path:
        """Written by rank 0 after the replicas' BN statistics are averaged (they saw other data)."""
        dist.average_buffers(self.model, self.ctx)
        if self.ema is not None:
            dist.average_buffers(self.ema.module, self.ctx)
        path = self.out_dir / CHECKPOINT_NAME
        if self.ctx.is_main:
            save_checkpoint(path, self._state())
            for cb in self.callbacks:
                if self.batch_in_epoch:  # epoch-end checkpoints are announced with the epoch
                    cb.on_checkpoint(path, self.step)
        dist.barrier(self.ctx)
        return path

    def _state(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.precision.scaler.state_dict(),
            "sampler": self.sampler.state_dict(),
            "telemetry": self.telemetry.state_dict(),
            "rng": capture_rng(),
            "history": self.history,
            "train_history": self.train_history,
            "final_probes": [r.model_dump(mode="json") for r in self.final_probes],
            "progress": dict(self.progress),
        }

    def _resume(self) -> int:
        state = load_resumable(self.out_dir, self.fingerprint)
        if state is None:
            return 0
        self.model.load_state_dict(state["model"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.precision.scaler.load_state_dict(state["scaler"])
        self.sampler.load_state_dict(state["sampler"])
        self.telemetry.load_state_dict(state["telemetry"])
        restore_rng(state["rng"])
        self.epoch, self.batch_in_epoch, self.step = state["epoch"], state["batch_in_epoch"], state["step"]
        self.history = state["history"]
        self.train_history = state["train_history"]
        self.final_probes = [ProbeResult.model_validate(r) for r in state["final_probes"]]
        self.progress = state["progress"]
        return self.step

    def _finish(self, wall_time: float) -> TrainResult:
        model = self.ema.module if self.ema is not None else self.model
        final = self.history[-1] if self.history else {}
        path = self.out_dir / SUPERNET_NAME
        if self.ctx.is_main:
            meta = SupernetMeta(
                space=self.space, num_classes=self.num_classes, config=self.cfg,
                weights="ema" if self.ema is not None else "model", steps=self.step, metrics=final,
            )
            save_supernet(path, model.state_dict(), meta)
            write_json(self.out_dir / METRICS_NAME, {"steps": self.step, "epochs": self.epoch, **final})
        replicas = dist.gather_objects(self._fingerprint(), self.ctx)
        if len({(r.weights_sha256, r.archs_sha256) for r in replicas}) > 1:
            raise RuntimeError(f"replicas diverged: {replicas}")
        count = self.progress["grad_cos_count"]
        return TrainResult(
            checkpoint=path,
            steps=self.step,
            epochs=self.epoch,
            wall_time_s=wall_time,
            resumed_from_step=self.resumed_from,
            final_metrics=final,
            best_metrics={k: max(h[k] for h in self.history) for k in final},
            final_probes=self.final_probes,
            grad_cos_prev_step_mean=self.progress["grad_cos_sum"] / count if count else None,
            scoring_forwards=self.progress["scoring_forwards"],
            replicas=replicas,
        )

    def _fingerprint(self) -> ReplicaFingerprint:
        digest = hashlib.sha256()
        for name, tensor in self.model.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        return ReplicaFingerprint(
            rank=self.ctx.rank, weights_sha256=digest.hexdigest(), archs_sha256=self.progress["archs_digest"]
        )

