"""The experiment configuration: one section per pipeline stage.

Every section forbids unknown keys and validates ranges, so a typo in a YAML file fails with the
field's dotted path instead of being silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from elasticvit.utils.redact import URL_USERINFO


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*")
    @classmethod
    def _no_credentials(cls, value: object) -> object:
        # a config is logged and stored (MLflow, Prefect's database, supernet.pt): no field holds a
        # secret; a nested section has checked its own fields
        if not isinstance(value, BaseModel) and URL_USERINFO.search(str(value)):
            raise ValueError(
                "holds credentials (user-info before '@'); give them through the environment "
                "(for data.url: ELASTICVIT_DOWNLOAD_USERNAME, ELASTICVIT_DOWNLOAD_PASSWORD) and keep the URL plain"
            )
        return value


class DataConfig(Section):
    """Where the images come from and how they are split."""

    source: Literal["digits", "cifar10", "npz", "imagefolder"] = "digits"
    path: Path | None = Field(
        default=None,
        description="npz: a directory holding train.npz (and optionally val.npz/test.npz) or one "
        ".npz file; imagefolder: the root of a class-per-folder tree; cifar10: download cache.",
    )
    url: str = Field(
        default="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        description="cifar10: the archive's URL, without credentials (ELASTICVIT_DOWNLOAD_USERNAME and "
        "ELASTICVIT_DOWNLOAD_PASSWORD give them)",
    )
    md5: str = "c58f30108f718f92721af3b95e74349a"
    resolution: int = Field(default=32, ge=8, le=1024)
    val_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    test_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    max_per_class: int | None = Field(default=None, ge=1)
    seed: int = 0
    output_dir: Path = Path("artifacts/data")

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError("val_fraction + test_fraction must leave some training data (< 1.0)")
        if self.source in ("npz", "imagefolder") and self.path is None:
            raise ValueError(f"data.path is required for source '{self.source}'")
        return self


class SpaceConfig(Section):
    """Which search space (a name in elasticvit/configs/spaces or a YAML path)."""

    name: str = "cifar"


class SamplingConfig(Section):
    """How subnets are drawn at each training step."""

    strategy: Literal["uniform", "complexity", "performance"] = "performance"
    num_random: int = Field(default=2, ge=0, description="uniform: random subnets besides max/min")
    num_levels: int = Field(default=8, ge=1, le=64)
    subnets_per_step: int = Field(default=3, ge=1, description="complexity: K subnets per level")
    pool_size: int = Field(default=2000, ge=10, description="archs kept per FLOPs level")
    bank_capacity_small: int = Field(default=150, ge=1)
    bank_capacity_large: int = Field(default=50, ge=1)
    exploit_prob_start: float = Field(default=0.2, ge=0.0, le=1.0)
    exploit_prob_end: float = Field(default=0.95, ge=0.0, le=1.0)
    explore_candidates: int = Field(default=4, ge=1)
    explore_heuristic: Literal["max_flops", "min_flops", "random"] = "max_flops"
    rescore_every: int = Field(default=200, ge=1, description="steps between bank re-scoring")
    train_space_ends: bool = Field(
        default=False,
        description="complexity/performance: level 0's student is the space's smallest, and the space's "
        "largest joins the top level's anchors (uniform pool draws never hold either)",
    )
    level_student: bool = Field(
        default=True,
        description="complexity/performance: every step also trains its level's smallest subnet as a "
        "student; false: the anchors alone, one forward/backward pass fewer a step (with "
        "train_space_ends the space's smallest then joins level 0's anchors)",
    )
    score_in_step: bool = Field(
        default=False,
        description="performance: an explored anchor's score is its cross-entropy in the step's own "
        "training forward (same batch, same weights), not a separate no-grad forward",
    )
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> SamplingConfig:
        if self.exploit_prob_start > self.exploit_prob_end:
            raise ValueError("sampling.exploit_prob_start must not exceed exploit_prob_end (it ramps up)")
        return self


class TrainingConfig(Section):
    """Supernet training recipe."""

    epochs: int = Field(default=2, ge=1)
    batch_size: int = Field(default=128, ge=1)
    lr: float = Field(default=2e-3, gt=0.0)
    weight_decay: float = Field(default=0.05, ge=0.0)
    optimizer: str = "adamw"
    warmup_epochs: float = Field(default=0.0, ge=0.0)
    label_smoothing: float = Field(default=0.1, ge=0.0, lt=1.0)
    distillation: Literal["none", "kl", "alpha"] = "kl"
    alpha_min: float = -1.0
    alpha_max: float = 1.0
    distill_from_epoch: float = Field(
        default=0.0, ge=0.0, description="students learn from the labels until this epoch, then from the "
        "distillation target: the in-place teacher (the anchors' prediction) is weak early in a run"
    )
    drop_path: float = Field(default=0.0, ge=0.0, lt=1.0)
    teacher: str | None = Field(default=None, description="checkpoint path or timm model name")
    grad_clip: float | None = Field(default=1.0, gt=0.0)
    mixup_alpha: float = Field(default=0.0, ge=0.0)
    hflip: bool = Field(
        default=True, description="random horizontal flips in training; off where a mirrored image is "
        "another class or none (digits, text)"
    )
    ema_decay: float | None = Field(default=None, gt=0.0, lt=1.0)
    zero_init_last: bool = Field(
        default=False, description="start every residual block of the supernet as the identity (its last "
        "norm or projection zeroed), so an arch's deeper variants agree with it at initialisation"
    )
    switchable_scales: bool = Field(
        default=False, description="give each width, MLP-ratio and V-scale choice of a transformer layer its "
        "own output scale on the attention and MLP branches (NASViT's switchable scaling), so sizes that share "
        "weights need not share their outputs' magnitude; folded into the extracted subnet's weights"
    )
    amp: bool = True
    compile: bool = False
    max_steps_per_epoch: int | None = Field(default=None, ge=1)
    checkpoint_every_steps: int | None = Field(default=None, ge=1)
    probes_per_level: int = Field(default=2, ge=0)
    bn_calib_batches: int = Field(default=4, ge=1)
    device: str = "auto"
    seed: int = 0
    output_dir: Path = Path("artifacts/supernet")

    @field_validator("optimizer")
    @classmethod
    def _known_optimizer(cls, name: str) -> str:
        # checked with the config, not when the first step is built: a misspelt optimizer fails
        # before any stage writes its outputs (timm is imported only when a config is validated)
        from timm.optim import list_optimizers

        if name.lower() not in list_optimizers():
            raise ValueError("not a timm optimizer (e.g. adamw, sgd, lamb; timm.optim.list_optimizers() lists all)")
        return name

    @model_validator(mode="after")
    def _check(self) -> TrainingConfig:
        if self.alpha_min > self.alpha_max:
            raise ValueError("training.alpha_min must not exceed training.alpha_max")
        if self.warmup_epochs >= self.epochs:
            raise ValueError("training.warmup_epochs must be shorter than training.epochs")
        if self.distill_from_epoch >= self.epochs:
            raise ValueError("training.distill_from_epoch must be earlier than training.epochs")
        if self.distill_from_epoch > 0 and self.distillation == "none":
            raise ValueError("training.distill_from_epoch needs training.distillation kl or alpha (it is none)")
        return self


class LatencyConfig(Section):
    """Which devices get a latency table and how measurements are taken."""

    devices: list[str] = Field(default_factory=lambda: ["torch-cpu-1t", "torch-cpu-2t", "onnx-cpu-1t"])
    warmup: int = Field(default=5, ge=0)
    repeats: int = Field(default=30, ge=3)
    min_time_s: float = Field(
        default=0.05, ge=0.0, description="least timed wall time per measurement: fast blocks get "
        "more than `repeats` calls, so one scheduler hiccup cannot cover all their samples"
    )
    max_cv: float = Field(default=0.1, gt=0.0)
    rounds: int = Field(
        default=5, ge=1, description="rounds over which the blocks of a group, the calibration archs "
        "and the validation archs are timed interleaved; each keeps its calmest round"
    )
    target_ci: float | None = Field(
        default=0.02, gt=0.0, lt=1.0, description="a runner leaves the later rounds once its two calmest "
        "rounds agree within this fraction and the calmest one's 95 % confidence interval is that tight "
        "(`elasticvit.latency.measure.settled`); null: every runner takes every round"
    )
    speed_reference: bool = Field(
        default=True, description="time a few fixed subnets in every group and scale each group to "
        "the table's first readings of them, so groups measured while the machine ran slower or "
        "faster agree (a shared machine's speed drifts; a dedicated device's factors stay near 1.0)"
    )
    statistic: Literal["median", "min"] = Field(
        default="median", description="the figure of each measurement that tables, calibration and "
        "validation use: the median is what a call typically costs on a dedicated device; the "
        "minimum is more robust where other jobs share the machine (they only ever add time)"
    )
    calibration_archs: int | None = Field(
        default=None, ge=0, description="subnets timed end to end to fit every device's correction; "
        "null: each device's own `calibration_archs` (30 unless its spec says more)"
    )
    validate_archs: int = Field(default=50, ge=1)
    remeasure_archs: int = Field(
        default=20, ge=0, description="validation subnets timed a second time, as a group of their "
        "own: how closely the device agrees with itself is as closely as any prediction can be judged"
    )
    seed: int = 0
    output_dir: Path = Path("artifacts/latency")


class SearchConfig(Section):
    """Evolutionary search under per-device latency budgets."""

    budgets_ms: dict[str, list[float]] = Field(
        default_factory=dict, description="explicit budgets per device name"
    )
    budget_fractions: list[float] = Field(
        default_factory=lambda: [0.25, 0.5, 0.75],
        description="used for devices without explicit budgets: fractions of the way from the "
        "fastest to the slowest subnet's predicted latency",
    )
    population: int = Field(default=50, ge=2)
    generations: int = Field(default=40, ge=1)
    parents: int = Field(default=10, ge=1)
    mutations: int = Field(default=25, ge=0)
    crossovers: int = Field(default=25, ge=0)
    mutation_prob: float = Field(default=0.3, ge=0.0, le=1.0)
    max_macs: int | None = Field(default=None, ge=1)
    max_params: int | None = Field(default=None, ge=1)
    allow_noisy_latency: bool = Field(
        default=False, description="search on a table whose validation found the device disagreeing with "
        "itself (its latencies are noise); off, such a table is refused with the reason"
    )
    calib_batches: int = Field(default=4, ge=1)
    patience: int | None = Field(
        default=None, ge=1, description="stop a budget's evolution after this many generations "
        "without a better best; None runs every generation, as the paper does"
    )
    warm_start_fraction: float = Field(
        default=0.5, ge=0.0, le=1.0, description="share of the initial population seeded with the "
        "most accurate cached archs that meet the budget (measured for earlier budgets or devices); "
        "0 makes a device's result independent of what the cache holds"
    )
    predictor_screen: int = Field(
        default=1, ge=1, description="candidates drawn per child, of which an accuracy predictor "
        "fitted on the cache picks one to measure; 1 turns the predictor off"
    )
    predictor_min_points: int = Field(default=50, ge=2, description="cached accuracies before it is fitted")
    rank_by: Literal["accuracy", "loss"] = Field(
        default="loss", description="what the search ranks subnets by on the val subset: 'loss' (the lowest "
        "mean cross-entropy) or 'accuracy' (the highest top-1); the loss is the less noisy estimate on a "
        "small val split (docs/search.md, 'Ranking subnets'); both are recorded either way"
    )
    val_samples: int | None = Field(
        default=None, ge=1, description="val images (a fixed class-balanced subset) each subnet is "
        "scored on during search; None: the whole split"
    )
    calib_batch_size: int = Field(default=128, ge=1)
    eval_batch_size: int = Field(default=500, ge=1)
    threads: int | None = Field(
        default=None, ge=1, description="torch intra-op threads while scoring subnets (None: leave "
        "torch's default); on a CPU shared with other jobs, 1 avoids spinning threads waiting on each other"
    )
    cache_path: Path | None = Field(
        default=None, description="accuracy cache shared by all devices (default: "
        "<output_dir>/evaluations.sqlite)"
    )
    measure_chosen: bool = Field(default=True, description="time each chosen subnet on the device backend")
    timed_front: int = Field(
        default=8, ge=0, description="after a search, this many subnets of its front (evenly spaced, ends kept) are "
        "timed end to end with the chosen ones and the trained baselines in one interleaved run"
    )
    confirm_candidates: int = Field(
        default=5, ge=1, description="with measure_chosen: at most this many candidates per budget, most accurate "
        "first, are timed on the device until one measures within the budget"
    )
    onnx_opset: int = Field(default=17, ge=11)
    parity_atol: float = Field(default=1e-4, gt=0.0, description="absolute part of the ONNX parity tolerance")
    parity_rtol: float = Field(
        default=1e-3, ge=0.0, description="part of the ONNX parity tolerance proportional to the largest logit"
    )
    export_dir: Path = Path("artifacts/export")
    seed: int = 0
    output_dir: Path = Path("artifacts/search")

    @model_validator(mode="after")
    def _check(self) -> SearchConfig:
        if self.parents > self.population:
            raise ValueError("search.parents must not exceed search.population")
        if any(not 0.0 <= f <= 1.0 for f in self.budget_fractions):
            raise ValueError("search.budget_fractions must lie in [0, 1]")
        return self


class BaselinesConfig(Section):
    """Plain timm models trained on the same data and measured on the same devices, for comparison."""

    models: list[str] = Field(
        default_factory=lambda: ["resnet18", "mobilenetv3_small_100", "mobilenetv3_large_100"],
        description="timm model names, created with no pretrained weights",
    )
    checkpoints: dict[str, Path] = Field(
        default_factory=dict, description="optional initial weights per model name (a state dict)"
    )
    budget: Literal["epochs", "minutes", "same_as_supernet"] = "epochs"
    epochs: int | None = Field(default=None, ge=1, description="budget=epochs (default: training.epochs)")
    minutes: float | None = Field(default=None, gt=0.0, description="budget=minutes: training wall time")
    output_dir: Path = Path("artifacts/baselines")

    @model_validator(mode="after")
    def _check(self) -> BaselinesConfig:
        if self.budget == "minutes" and self.minutes is None:
            raise ValueError("baselines.minutes is required when baselines.budget is 'minutes'")
        unknown = sorted(set(self.checkpoints) - set(self.models))
        if unknown:
            raise ValueError(f"baselines.checkpoints names models not in baselines.models: {unknown}")
        return self


class TrackingConfig(Section):
    """MLflow organisation (the server address comes from the environment, see Settings)."""

    experiment: str = "elasticvit"
    run_name: str | None = None


class StorageConfig(Section):
    """Where artifacts live locally and, optionally, on S3."""

    artifacts_dir: Path = Path("artifacts")
    s3_bucket: str | None = None
    s3_prefix: str = "elasticvit"


class ExperimentConfig(Section):
    """The whole experiment: what a pipeline run is a function of."""

    name: str = "quickstart"
    data: DataConfig = DataConfig()
    space: SpaceConfig = SpaceConfig()
    training: TrainingConfig = TrainingConfig()
    sampling: SamplingConfig = SamplingConfig()
    latency: LatencyConfig = LatencyConfig()
    search: SearchConfig = SearchConfig()
    baselines: BaselinesConfig = BaselinesConfig()
    tracking: TrackingConfig = TrackingConfig()
    storage: StorageConfig = StorageConfig()
