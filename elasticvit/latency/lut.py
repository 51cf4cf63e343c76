"""The block-level latency lookup table of one device for one search space, and its JSON format.

A table file (``artifacts/latency/<device>/table.json``) is JSON with sorted keys and two-space
indentation, so re-collecting a device yields a readable diff. Entries are keyed by
``BlockSpec.key`` (``kind-field-value-...``, e.g. ``transformer-hw8-c96-mlp3-v2-heads6``), a string
that depends only on the block's configuration and input shape. See docs/latency.md.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import socket
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import elasticvit
from elasticvit.config.experiment import LatencyConfig
from elasticvit.errors import ElasticViTError
from elasticvit.latency.correction import CalibrationPoint, Correction
from elasticvit.latency.devices import DeviceSpec
from elasticvit.latency.measure import Measurement, Statistic
from elasticvit.utils.atomic import write_json

FORMAT_VERSION = 1


class LatencyTableError(ElasticViTError):
    """A table cannot be read or does not fit the space, device or arch it is used for."""


class TableMismatchError(LatencyTableError):
    """The table was built for another space (hash), device spec or number of classes."""


class MissingBlockError(LatencyTableError, LookupError):
    """A block the arch (or space) needs has no entry in the table."""


class MeasureSettings(BaseModel):
    """How the entries were measured (from ``LatencyConfig``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warmup: int = Field(ge=0)
    repeats: int = Field(ge=1)
    min_time_s: float = Field(ge=0.0)
    max_cv: float = Field(gt=0.0)
    rounds: int = Field(default=1, ge=1, description="interleaved rounds (tables before rounds existed: 1)")
    speed_reference: bool = Field(default=False, description="groups scaled to reference subnets' speed")
    target_ci: float | None = Field(default=None, description="runners left the rounds once settled "
                                    "(tables before early stopping: None)")
    statistic: Statistic = Field(description="the figure of each measurement the table uses")

    @classmethod
    def from_config(cls, cfg: LatencyConfig) -> MeasureSettings:
        return cls(warmup=cfg.warmup, repeats=cfg.repeats, min_time_s=cfg.min_time_s, max_cv=cfg.max_cv,
                   rounds=cfg.rounds, speed_reference=cfg.speed_reference, target_ci=cfg.target_ci,
                   statistic=cfg.statistic)


class BlockEntry(BaseModel):
    """One distinct block: what it is (kind, input shape, configuration) and its latency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    input_shape: list[int]
    config: dict[str, Any] = Field(description="the BlockSpec's fields, for reading the table")
    latency: Measurement


class TableHeader(BaseModel):
    """What a table's numbers are a function of; checked before any entry is trusted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: int = FORMAT_VERSION
    space: str
    space_hash: str
    num_classes: int = Field(ge=1)
    device: DeviceSpec
    settings: MeasureSettings
    runtime: dict[str, str] = Field(description="library versions, Python, platform")
    host: str
    created: str = Field(description="ISO 8601, UTC")

    def check(self, space_hash: str, device: DeviceSpec | None = None, num_classes: int | None = None) -> None:
        """Raise ``TableMismatchError`` unless the table fits this space, device and head."""
        if self.space_hash != space_hash:
            raise TableMismatchError(
                f"latency table of device '{self.device.name}' was built for space '{self.space}' "
                f"with hash {self.space_hash}, but the space in use has hash {space_hash}: "
                f"re-collect it (elasticvit latency collect --device {self.device.name})"
            )
        if device is not None and device.measurement_fields() != self.device.measurement_fields():
            raise TableMismatchError(
                f"latency table was measured on {self.device.measurement_fields()}, "
                f"not on the requested device {device.measurement_fields()}"
            )
        if num_classes is not None and num_classes != self.num_classes:
            raise TableMismatchError(
                f"latency table has a head for {self.num_classes} classes, not {num_classes}"
            )


class PartialTable(TableHeader):
    """Progress of an interrupted collection (``<table>.partial``): entries measured so far."""

    entries: dict[str, BlockEntry] = Field(default_factory=dict)
    call_overhead: Measurement | None = None
    reference: list[Measurement] | None = None
    calibration: dict[str, Measurement] = Field(
        default_factory=dict, description="calibration arch id -> its end-to-end measurement"
    )
    collect_s: float = Field(default=0.0, ge=0.0, description="collection wall time so far")


class LatencyTable(TableHeader):
    """A complete table: every block of the space, the empty-call overhead, the correction."""

    entries: dict[str, BlockEntry]
    call_overhead: Measurement = Field(description="an empty model run through the backend")
    overhead_per_block_ms: float = Field(
        ge=0.0, description="subtracted from every block before summing (0 if the backend pays "
        "its call overhead per block even inside a model)"
    )
    reference: list[Measurement] | None = Field(
        default=None, description="the speed reference subnets' readings among the calibration archs, "
        "which every group of measurements is scaled to (settings.speed_reference)"
    )
    calibration: list[CalibrationPoint]
    correction: Correction
    collect_s: float = Field(ge=0.0, description="collection wall time, summed over resumed runs")

    def latency_ms(self, key: str) -> float:
        """The latency of one block (its ``settings.statistic``); a missing key is an error."""
        try:
            return self.entries[key].latency.value(self.settings.statistic)
        except KeyError:
            raise MissingBlockError(
                f"block '{key}' is not in the latency table of device '{self.device.name}' "
                f"(space '{self.space}', hash {self.space_hash}, {len(self.entries)} entries)"
            ) from None

    def medians(self, keys: list[str]) -> np.ndarray:
        return np.array([self.latency_ms(k) for k in keys], dtype=np.float64)

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_json(path, self.model_dump(mode="json"))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LatencyTable:
        return _load(cls, path)


def load_partial(path: str | os.PathLike[str]) -> PartialTable:
    return _load(PartialTable, path)


def make_header(
    space: str,
    space_hash: str,
    num_classes: int,
    device: DeviceSpec,
    settings: MeasureSettings,
    backend_versions: dict[str, str],
) -> TableHeader:
    """A header stamped with this host, the current time and the library versions."""
    return TableHeader(
        space=space,
        space_hash=space_hash,
        num_classes=num_classes,
        device=device,
        settings=settings,
        runtime=runtime_info(backend_versions),
        host=socket.gethostname(),
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )


def runtime_info(backend_versions: dict[str, str]) -> dict[str, str]:
    return {
        **backend_versions,
        "elasticvit": elasticvit.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "cpu_count": str(os.cpu_count()),
        # Other jobs on the machine slow wall-clock timings; this says how busy it was at the start.
        "load_avg_1m": f"{os.getloadavg()[0]:.2f}",
    }


def _load(cls: type[Any], path: str | os.PathLike[str]) -> Any:
    path = Path(path)
    if not path.exists():
        raise LatencyTableError(f"no latency table at {path}: collect it first (elasticvit latency collect)")
    try:
        table = cls.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise LatencyTableError(f"{path}: not a valid latency table: {exc}") from exc
    if table.format_version != FORMAT_VERSION:
        raise LatencyTableError(
            f"{path}: table format {table.format_version}, this version reads {FORMAT_VERSION}"
        )
    return table
