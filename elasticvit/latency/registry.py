"""Devices added to one experiment after it was configured.

An experiment's devices are the config's ``latency.devices`` plus those added with ``elasticvit
device add``. An added device's spec is copied into ``<storage.artifacts_dir>/devices/``, so it
travels with the experiment's artifacts (and their DVC/S3 versioning) and the experiment config,
hence its ``config_hash``, stays as it was: adding a phone does not invalidate the supernet.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from elasticvit.config.experiment import ExperimentConfig
from elasticvit.latency.backends.base import BackendError, get_backend
from elasticvit.latency.devices import DEVICE_DIR, DeviceError, DeviceSpec, list_devices, load_device
from elasticvit.utils.atomic import write_text

ADDED_DIR = "devices"


def added_dir(cfg: ExperimentConfig) -> Path:
    return Path(cfg.storage.artifacts_dir) / ADDED_DIR


def added_devices(cfg: ExperimentConfig) -> list[DeviceSpec]:
    """The devices added to ``cfg``'s experiment, by name."""
    return [load_device(path) for path in sorted(added_dir(cfg).glob("*.yaml"))]


def experiment_devices(cfg: ExperimentConfig) -> list[str]:
    """Every device of the experiment: the configured ones first, then the added ones."""
    names = list(cfg.latency.devices)
    return names + [spec.name for spec in added_devices(cfg) if spec.name not in names]


def device_spec(cfg: ExperimentConfig, name_or_path: str | os.PathLike[str]) -> DeviceSpec:
    """A device of ``cfg``'s experiment by name (added ones included), or from a YAML path."""
    added = added_dir(cfg) / f"{name_or_path}.yaml"
    if not Path(name_or_path).exists() and added.exists():
        return load_device(added)
    if Path(name_or_path).exists() or Path(DEVICE_DIR / f"{name_or_path}.yaml").exists():
        return load_device(name_or_path)
    known = ", ".join(sorted(set(experiment_devices(cfg)) | set(list_devices())))
    raise DeviceError(f"unknown device '{name_or_path}' (known: {known}; or give a YAML path, or add it: "
                      "elasticvit device add PATH)")


def add_device(cfg: ExperimentConfig, path: str | os.PathLike[str]) -> DeviceSpec:
    """Validate the spec at ``path`` and add it to the experiment; return it.

    Adding the same spec twice is a no-op, and one that differs only outside its measurement fields
    (the calibration count, the description) replaces the added one; a spec that measures differently
    under a name the experiment already uses is refused (its table and models are filed under that name).
    """
    path = Path(path)
    if not path.is_file():
        raise DeviceError(f"{path}: no such device file (expected a YAML device spec, see elasticvit/configs/devices/)")
    spec = load_device(path)
    try:  # a spec the platform cannot measure would fail only later, on the device's worker
        get_backend(spec)
    except BackendError as exc:
        raise DeviceError(f"{path}: {exc}") from exc
    target = added_dir(cfg) / f"{spec.name}.yaml"
    existing = _known_spec(cfg, spec.name)
    if existing is not None:
        if existing.measurement_fields() != spec.measurement_fields():
            where = target if target.exists() else DEVICE_DIR / f"{spec.name}.yaml"
            raise DeviceError(
                f"{path}: device '{spec.name}' is already part of experiment '{cfg.name}' with other "
                f"settings ({where}); give the new device another name"
            )
        if existing == spec and (spec.name in cfg.latency.devices or target.exists()):
            return existing
        if spec.name in cfg.latency.devices and not target.exists():
            before = existing.model_dump()
            changed = sorted(k for k, v in spec.model_dump().items() if before[k] != v)
            raise DeviceError(
                f"{path}: device '{spec.name}' is configured in latency.devices of '{cfg.name}'; to change its "
                f"{', '.join(changed)}, edit {DEVICE_DIR / f'{spec.name}.yaml'} (or set latency.calibration_archs)"
            )
    # new, or the same device with another calibration count or description: its tables stay valid
    write_text(target, yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    return spec


def remove_device(cfg: ExperimentConfig, name: str) -> Path:
    """Take an added device out of the experiment; its tables and models stay where they are."""
    target = added_dir(cfg) / f"{name}.yaml"
    if name in cfg.latency.devices:
        raise DeviceError(f"device '{name}' is configured in latency.devices of '{cfg.name}', not added; "
                          "remove it from the config instead")
    if not target.exists():
        added = ", ".join(s.name for s in added_devices(cfg)) or "none"
        raise DeviceError(f"device '{name}' was not added to experiment '{cfg.name}' (added: {added})")
    target.unlink()
    return target


def _known_spec(cfg: ExperimentConfig, name: str) -> DeviceSpec | None:
    """The spec the experiment already files under ``name``: an added one, a configured one, or a
    shipped one (whose name is taken by ``elasticvit/configs/devices/``)."""
    added = added_dir(cfg) / f"{name}.yaml"
    if added.exists():
        return load_device(added)
    if name in cfg.latency.devices or name in list_devices():
        return load_device(name)
    return None
