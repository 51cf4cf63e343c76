"""The training loop end to end on a tiny configuration: strategies, outputs, callbacks, bad configs."""

from __future__ import annotations

import json

from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from elasticvit.config.experiment import DataConfig, ExperimentConfig
from elasticvit.data import prepare_dataset
from elasticvit.model import save_subnet
from elasticvit.training import loop
from elasticvit.training import (
    EpochMetrics,
    ProgressCallback,
    StepMetrics,
    load_supernet,
    plot_accuracy_vs_macs,
    train_supernet,
)
from elasticvit.training.checkpoint import CHECKPOINT_NAME


def write_tiny_data(root: Path, num_classes: int = 4, images: int = 128) -> Path:
    """Separable synthetic images (the class sets the brightness), prepared like any npz source."""
    rng = np.random.default_rng(0)
    labels = np.arange(images) % num_classes
    pixels = (rng.random((images, 32, 32, 3)) * 60 + labels[:, None, None, None] * 50).astype(np.uint8)
    source = root.parent / f"{root.name}-source.npz"
    root.parent.mkdir(parents=True, exist_ok=True)
    np.savez(source, images=pixels, labels=labels)
    cfg = DataConfig(source="npz", path=source, val_fraction=0.25, test_fraction=0.125, output_dir=root)
    prepare_dataset(cfg, progress=False)
    return root


# A space far smaller than ``cifar`` (same kinds of stages), so a training step takes milliseconds.
TINY_SPACE = """
name: tiny
resolutions: [24, 32]
first_conv: {widths: [8, 16], kernel: 3, stride: 2}
stem: {depths: [1, 2], kernels: [3]}
stages:
  - {kind: mbconv, widths: [16, 24], depths: [1, 2], stride: 2, kernels: [3], expansions: [2, 3]}
  - {kind: transformer, widths: [32, 48], depths: [1, 2], stride: 2, mlp_ratios: [2], v_scales: [1, 2]}
head: {expansion: 2, width: 64, dropout: 0.1}
head_dim: 16
"""


def tiny_config(space: Path, strategy: str = "performance", **training) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "space": {"name": str(space)},
            "training": {
                "epochs": 2, "batch_size": 16, "max_steps_per_epoch": 3, "probes_per_level": 1,
                "bn_calib_batches": 1, "warmup_epochs": 0.5, **training,
            },
            "sampling": {
                "strategy": strategy, "num_levels": 2, "pool_size": 10, "num_random": 1,
                "subnets_per_step": 2, "rescore_every": 2, "bank_capacity_small": 3, "bank_capacity_large": 2,
            },
        }
    )


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def tiny_space(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("space") / "tiny.yaml"
    path.write_text(TINY_SPACE)
    return path


class Recorder:
    def __init__(self) -> None:
        self.steps: list[StepMetrics] = []
        self.epochs: list[EpochMetrics] = []
        self.checkpoints: list[tuple[Path, int]] = []

    def on_step(self, record: StepMetrics) -> None:
        self.steps.append(record)

    def on_epoch(self, record: EpochMetrics) -> None:
        self.epochs.append(record)

    def on_checkpoint(self, path: Path, step: int) -> None:
        self.checkpoints.append((path, step))


@pytest.mark.parametrize("strategy", ["uniform", "complexity", "performance"])
def test_each_strategy_trains_and_reports(tiny_data: Path, tiny_space: Path, tmp_path: Path, strategy: str) -> None:
    torch.set_num_threads(1)
    rec = Recorder()
    with ProgressCallback() as progress:
        result = train_supernet(tiny_config(tiny_space, strategy), tiny_data, tmp_path, [rec, progress])
    assert result.steps == 6 == len(rec.steps) and result.epochs == 2
    assert [s.step for s in rec.steps] == list(range(1, 7))
    assert all(np.isfinite(s.metrics["loss"]) for s in rec.steps)
    assert all("grad_cos_prev_step" in s.metrics for s in rec.steps[1:])
    assert -1.0 <= result.grad_cos_prev_step_mean <= 1.0
    assert {"smallest", "largest", "level0", "level1"} <= set(result.final_metrics)
    assert all(0.0 <= v <= 1.0 for v in result.final_metrics.values())
    assert len(rec.epochs) == 2 and rec.epochs[-1].per_level == result.final_metrics
    assert "loss_anchor" in rec.epochs[-1].train
    assert [step for _, step in rec.checkpoints] == [3, 6]
    history = json.loads((tmp_path / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert history[-1]["largest"] == result.final_metrics["largest"]
    assert history[0]["loss"] == pytest.approx(np.mean([s.metrics["loss"] for s in rec.steps[:3]]))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics == {"steps": 6, "epochs": 2, **result.final_metrics}
    assert (result.scoring_forwards > 0) == (strategy == "performance")
    if strategy == "uniform":
        assert all(s.level is None and len(s.arch_ids) == 3 for s in rec.steps)
    else:
        assert all(s.level in (0, 1) and len(s.arch_ids) == 3 for s in rec.steps)


def test_a_run_without_level_students_trains_the_anchors_alone(tiny_data: Path, tiny_space: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cfg = tiny_config(tiny_space)
    cfg = cfg.model_copy(update={"sampling": cfg.sampling.model_copy(update={"level_student": False})})
    rec = Recorder()
    result = train_supernet(cfg, tiny_data, tmp_path, [rec])
    assert result.steps == 6 and all(len(s.arch_ids) == 2 for s in rec.steps)  # subnets_per_step anchors
    assert all("loss_student" not in s.metrics and np.isfinite(s.metrics["loss"]) for s in rec.steps)


def test_scores_from_the_training_forward_are_a_scoring_forwards(tiny_data: Path, tiny_space: Path, tmp_path: Path) -> None:
    """``sampling.score_in_step``: every anchor explored (exploit probability 0), the banks end with
    the same archs and scores as with a separate no-grad forward per explored anchor, without
    those forwards."""
    torch.set_num_threads(1)
    runs = {}
    for in_step in (False, True):
        cfg = tiny_config(tiny_space)
        sampling = cfg.sampling.model_copy(update={"score_in_step": in_step, "exploit_prob_start": 0.0,
                                                   "exploit_prob_end": 0.0})
        out = tmp_path / f"in_step_{in_step}"
        result = train_supernet(cfg.model_copy(update={"sampling": sampling}), tiny_data, out, [])
        runs[in_step] = result, torch.load(out / "checkpoint.pt", weights_only=True)["sampler"]["banks"]
    (separate, separate_banks), (in_step, in_step_banks) = runs[False], runs[True]
    assert [b["archs"] for b in in_step_banks] == [b["archs"] for b in separate_banks]
    assert sum(len(b["archs"]) for b in in_step_banks) > 0
    for mine, theirs in zip(in_step_banks, separate_banks, strict=True):
        # a forward with autograd and one without may round differently (3e-4 seen)
        assert mine["scores"] == pytest.approx(theirs["scores"], rel=2e-3)
    assert separate.scoring_forwards - in_step.scoring_forwards == 2 * separate.steps  # 2 explored a step


def test_students_follow_the_labels_until_distillation_starts(tiny_data: Path, tiny_space: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    runs = {}
    for name, training in {"labels": {"distillation": "none"},
                           "late": {"distillation": "kl", "distill_from_epoch": 1}}.items():
        rec = Recorder()
        train_supernet(tiny_config(tiny_space, "uniform", **training), tiny_data, tmp_path / name, [rec])
        runs[name] = [s.metrics["loss_student"] for s in rec.steps]
    # the first epoch (3 steps) is the same run as learning from the labels throughout; then it is not
    assert runs["late"][:3] == runs["labels"][:3]
    assert runs["late"][3:] != runs["labels"][3:]


def test_final_supernet_loads_weights_only_and_resumed_run_is_a_no_op(
    tiny_data: Path, tiny_space: Path, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    cfg = tiny_config(tiny_space, "complexity", ema_decay=0.9, distillation="alpha", drop_path=0.1)
    result = train_supernet(cfg, tiny_data, tmp_path)
    assert result.checkpoint == tmp_path / "supernet.pt"
    blob = torch.load(result.checkpoint, weights_only=True)
    assert blob["num_classes"] == 4 and blob["weights"] == "ema"
    model, meta = load_supernet(result.checkpoint)
    assert meta.config == cfg and meta.steps == 6 and meta.metrics == result.final_metrics
    arch = meta.space.smallest()
    model.set_active(arch)
    with torch.no_grad():
        assert model(torch.zeros(2, 3, arch.resolution, arch.resolution)).shape == (2, 4)
    history = (tmp_path / "history.json").read_text()
    again = train_supernet(cfg, tiny_data, tmp_path)
    assert (tmp_path / "history.json").read_text() == history
    assert again.resumed_from_step == 6 and again.steps == 6 and again.final_metrics == result.final_metrics


def test_switchable_scales_train_and_load_back(tiny_data: Path, tiny_space: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    result = train_supernet(tiny_config(tiny_space, switchable_scales=True), tiny_data, tmp_path)
    model, meta = load_supernet(result.checkpoint)  # built with the scales the run trained
    assert meta.config.training.switchable_scales
    scales = [p for n, p in model.named_parameters() if n.endswith("switch.scales")]
    assert scales and any(not torch.equal(p, torch.ones_like(p)) for p in scales)


def test_a_checkpoint_of_another_config_is_not_resumed(tiny_data: Path, tiny_space: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    train_supernet(tiny_config(tiny_space, "uniform", epochs=1), tiny_data, tmp_path)
    assert (tmp_path / CHECKPOINT_NAME).exists()
    result = train_supernet(tiny_config(tiny_space, "uniform", epochs=1, lr=1e-3), tiny_data, tmp_path)
    assert result.resumed_from_step == 0 and result.steps == 3


@pytest.mark.parametrize(
    ("section", "values", "match"),
    [
        ("sampling", {"strategy": "greedy"}, "strategy"),
        ("sampling", {"exploit_prob_start": 0.9, "exploit_prob_end": 0.2}, "exploit_prob"),
        ("sampling", {"num_levels": 0}, "num_levels"),
        ("training", {"alpha_min": 1.0, "alpha_max": -1.0}, "alpha_min"),
        ("training", {"epochs": 2, "warmup_epochs": 3}, "warmup"),
        ("training", {"distillation": "mse"}, "distillation"),
        ("training", {"label_smoothing": 1.0}, "label_smoothing"),
        ("training", {"lr": 0.0}, "lr"),
    ],
)
def test_bad_configs_are_rejected(section: str, values: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        ExperimentConfig.model_validate({section: values})


@pytest.mark.parametrize(
    ("training", "match"),
    [
        ({"batch_size": 1000}, "do not fill one batch"),
        ({"batch_size": 15, "mixup_alpha": 0.2}, "even batch"),
        ({"teacher": "no-such-model-or-file"}, "neither an existing file nor a timm model"),
        ({"device": "cuda"} if not torch.cuda.is_available() else {"batch_size": 1000}, "CUDA|fill"),
    ],
)
def test_configs_that_cannot_run_fail_before_training(
    tiny_data: Path, tiny_space: Path, tmp_path: Path, training: dict, match: str
) -> None:
    with pytest.raises((ValueError, RuntimeError), match=match):
        train_supernet(tiny_config(tiny_space, **training), tiny_data, tmp_path)
    assert not (tmp_path / CHECKPOINT_NAME).exists()


def test_external_teacher_from_a_supernet_or_subnet_file(tiny_data: Path, tiny_space: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    teacher = train_supernet(tiny_config(tiny_space, "uniform", epochs=1), tiny_data, tmp_path / "teacher")
    cfg = tiny_config(tiny_space, "complexity", epochs=1, teacher=str(teacher.checkpoint))
    assert train_supernet(cfg, tiny_data, tmp_path / "from-supernet").steps == 3
    supernet, meta = load_supernet(teacher.checkpoint)
    save_subnet(tmp_path / "subnet.pt", supernet.extract(meta.space.largest()))
    cfg = tiny_config(tiny_space, "complexity", epochs=1, teacher=str(tmp_path / "subnet.pt"))
    assert train_supernet(cfg, tiny_data, tmp_path / "from-subnet").steps == 3


def test_accuracy_plot_is_a_png(tmp_path: Path) -> None:
    from elasticvit.training.records import ProbeResult

    probes = [
        ProbeResult(name=f"p{i}", arch_id=str(i), level=0, macs=10**6 * (i + 1), accuracy=0.1 * i, loss=1.0)
        for i in range(4)
    ]
    png = plot_accuracy_vs_macs({"epoch 1": probes, "epoch 2": probes[:2]}, tmp_path / "plot.png", title="t")
    assert png.startswith(b"\x89PNG") and (tmp_path / "plot.png").read_bytes() == png


def test_a_checkpoint_whose_optimizer_groups_differ_is_not_resumed(
    tiny_data: Path, tiny_space: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Same config, but the code builds the optimizer's parameter groups otherwise (as a newer
    # version may): the old checkpoint cannot be loaded, so training starts over instead of failing.
    torch.set_num_threads(1)
    cfg = tiny_config(tiny_space, "uniform", epochs=1)
    train_supernet(cfg, tiny_data, tmp_path)
    original = loop.build_optimizer
    monkeypatch.setattr(loop, "build_optimizer", lambda model, tc: original(model, tc.model_copy(update={"weight_decay": 0.0})))
    result = train_supernet(cfg, tiny_data, tmp_path)
    assert result.resumed_from_step == 0 and result.steps == 3
