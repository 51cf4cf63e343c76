"""Target devices as data: one YAML file per device in ``elasticvit/configs/devices/``.

A device is not only hardware: the same CPU under PyTorch eager on one thread, on two threads, or
under ONNX Runtime ranks blocks differently, so each combination is its own device with its own
latency table.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from elasticvit.errors import ElasticViTError
from elasticvit.utils.shipped import CONFIGS

DEVICE_DIR = CONFIGS / "devices"


class DeviceError(ElasticViTError):
    """A device file is missing or invalid; the message names the file and the field."""


class DeviceSpec(BaseModel):
    """What a latency table was measured on, and how.

    ``backend`` names a registered runtime backend (see ``elasticvit.latency.backends``);
    ``device`` is the backend's own device string (``cpu``, ``cuda``, ``cuda:1``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    backend: str
    device: str = "cpu"
    threads: int = Field(default=1, ge=1)
    batch_size: int = Field(default=1, ge=1)
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    clock: Literal["wall", "thread"] = Field(
        default="wall", description="wall: elapsed time; thread: CPU time of the calling thread "
        "(single-threaded CPU devices only), which excludes time the OS gives to other processes"
    )
    hardware: str = Field(default="", description="free text: CPU/GPU model, OS, power mode")
    calibration_archs: int = Field(
        default=30, ge=0, description="subnets timed end to end to fit the table's correction (unless "
        "latency.calibration_archs sets one count for every device): a runtime that fuses across blocks, "
        "so that a whole subnet is not the sum of its blocks, needs more of them to learn the gap"
    )

    @model_validator(mode="after")
    def _check_clock(self) -> DeviceSpec:
        # Thread CPU time equals latency only if all the work runs on the thread that calls.
        if self.clock == "thread" and (self.threads != 1 or self.device != "cpu"):
            raise ValueError("clock 'thread' needs threads: 1 on device cpu (other threads' work "
                             "and GPU time are invisible to the calling thread's CPU clock)")
        return self

    def measurement_fields(self) -> dict[str, object]:
        """Everything that changes a measurement: not the free-text description, nor how many
        subnets the correction is fitted on (the table records that as its correction's points)."""
        return self.model_dump(exclude={"hardware", "calibration_archs"})

    def calibration_count(self, configured: int | None) -> int:
        """``latency.calibration_archs`` where set, else this device's own count."""
        return self.calibration_archs if configured is None else configured


def load_device(name_or_path: str | os.PathLike[str]) -> DeviceSpec:
    """A device from a YAML path, or by name from ``elasticvit/configs/devices/<name>.yaml``."""
    path = Path(name_or_path)
    by_name = not path.exists()
    if by_name:
        path = DEVICE_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(list_devices()) or "none"
        raise DeviceError(f"unknown device '{name_or_path}' (known: {known}; or give a YAML path)")
    try:
        spec = DeviceSpec.model_validate(yaml.safe_load(path.read_text()))
    except (yaml.YAMLError, ValidationError) as exc:
        raise DeviceError(f"{path}: invalid device spec: {exc}") from exc
    # Tables and artifacts are filed under the device name: a file whose name disagrees with its
    # content would put one device's measurements under another's name.
    if by_name and spec.name != path.stem:
        raise DeviceError(f"{path}: declares name '{spec.name}', expected '{path.stem}'")
    return spec


def list_devices() -> list[str]:
    """Names of the devices shipped in ``elasticvit/configs/devices/``."""
    return sorted(p.stem for p in DEVICE_DIR.glob("*.yaml"))
