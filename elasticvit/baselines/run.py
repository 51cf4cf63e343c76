"""One baseline end to end: create, train under a budget, evaluate, save, time on every device."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from elasticvit.baselines.latency import measure_model
from elasticvit.baselines.models import check_model_name, count_macs, count_params, create_baseline
from elasticvit.baselines.records import BaselineResult
from elasticvit.baselines.train import Batch, Budget, evaluate, resolve_device, seeded, train_baseline
from elasticvit.config.experiment import ExperimentConfig
from elasticvit.data import InMemoryLoader, load_split, read_manifest
from elasticvit.latency.devices import DeviceSpec
from elasticvit.latency.registry import device_spec
from elasticvit.layout import RESULT_NAME, baseline_dir
from elasticvit.training.callbacks import TrainCallback
from elasticvit.utils.atomic import torch_save

WEIGHTS_NAME = "model.pt"
EVAL_BATCH = 256


def run_baseline(
    cfg: ExperimentConfig,
    model: str,
    data_dir: str | os.PathLike[str],
    budget: Budget,
    checkpoint: str | os.PathLike[str] | None = None,
    devices: Sequence[str] | None = None,
    callbacks: Sequence[TrainCallback] = (),
) -> BaselineResult:
    """Train ``model`` on the prepared data with ``cfg.training``'s recipe and time it on ``devices``.

    ``devices`` defaults to ``cfg.latency.devices``. Names are checked before any training starts,
    so a typo costs nothing. Writes the weights and ``result.json`` under ``cfg.baselines.output_dir``.
    """
    check_model_name(model)
    specs = [device_spec(cfg, d) for d in (cfg.latency.devices if devices is None else devices)]
    data_dir = Path(data_dir)
    manifest = read_manifest(data_dir)
    device = resolve_device(cfg.training.device)
    images, labels = load_split(data_dir, "train")
    val_batches = _eval_batches(data_dir, "val", device)
    test_batches = _eval_batches(data_dir, "test", device) if "test" in manifest.counts else []
    resolution = val_batches[0][0].shape[-1]
    with seeded(cfg.training.seed):
        net = create_baseline(model, manifest.num_classes, checkpoint, cfg.training.drop_path).to(device)
    macs = count_macs(net, (1, 3, resolution, resolution))
    stats = train_baseline(net, images, labels, cfg.training, budget, val_batches, callbacks, name=model, macs=macs)
    val_acc, val_loss = evaluate(net, val_batches)
    test_acc, test_loss = evaluate(net, test_batches) if test_batches else (None, None)
    out = baseline_dir(cfg.baselines.output_dir, model)
    weights = torch_save(out / WEIGHTS_NAME, {k: v.cpu() for k, v in net.state_dict().items()})
    result = BaselineResult(
        model=model,
        num_classes=manifest.num_classes,
        resolution=resolution,
        params=count_params(net),
        macs=macs,
        budget=budget,
        train=stats,
        val_accuracy=val_acc,
        val_loss=val_loss,
        test_accuracy=test_acc,
        test_loss=test_loss,
        latency={spec.name: measure_model(net, spec, cfg.latency, resolution) for spec in specs},
        statistic=cfg.latency.statistic,
        weights=weights.resolve(),
    )
    result.save(out / RESULT_NAME)
    return result


def time_baseline(cfg: ExperimentConfig, model: str, spec: DeviceSpec) -> BaselineResult:
    """Time an already trained baseline on one more device and record it in its ``result.json``.

    A device added to the experiment later gets its baseline rows without training anything again;
    a device the baseline was already timed on is left as it was.
    """
    path = baseline_dir(cfg.baselines.output_dir, model) / RESULT_NAME
    if not path.exists():
        raise FileNotFoundError(f"no trained baseline '{model}' at {path} (train it first: elasticvit baseline -m {model})")
    result = BaselineResult.load(path)
    if spec.name in result.latency:
        return result
    net = create_baseline(model, result.num_classes, result.weights)
    timed = result.model_copy(update={"latency": {**result.latency, spec.name: measure_model(net, spec, cfg.latency, result.resolution)}})
    timed.save(path)
    return timed


def _eval_batches(data_dir: Path, split: str, device: torch.device) -> list[Batch]:
    images, labels = load_split(data_dir, split)
    loader = InMemoryLoader(
        images, labels, batch_size=EVAL_BATCH, shuffle=False, augment=False, drop_last=False, device=device
    )
    return list(loader)
