"""Load an ``ExperimentConfig`` from YAML, apply ``key=value`` overrides, export params.yaml."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from elasticvit.config.experiment import ExperimentConfig
from elasticvit.errors import ElasticViTError, describe_invalid
from elasticvit.utils.atomic import write_text
from elasticvit.utils.hashing import stable_hash
from elasticvit.utils.redact import redact_setting, redact_text
from elasticvit.utils.shipped import CONFIGS

CONFIG_DIR = CONFIGS


class ConfigError(ElasticViTError):
    """A configuration file or override is invalid; the message names the field."""


def resolve_config_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A path as given, or a bare name looked up in the repository's ``elasticvit/configs/``."""
    path = Path(name_or_path)
    if path.exists():
        return path
    candidate = CONFIG_DIR / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    raise ConfigError(f"config file not found: '{name_or_path}' (nor {candidate})")


def load_config(
    name_or_path: str | os.PathLike[str] | None = None, overrides: list[str] | None = None
) -> ExperimentConfig:
    """Read YAML (or start from defaults), apply ``section.key=value`` overrides, validate."""
    raw: dict[str, Any] = {}
    source = "defaults"
    if name_or_path is not None:
        path = resolve_config_path(name_or_path)
        source = str(path)
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            # not chained: the parser's error quotes the line, which may hold a credential
            raise ConfigError(f"{path}: not valid YAML: {redact_text(str(exc))}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level, got {type(loaded).__name__}")
        raw = loaded or {}
    raw = apply_overrides(raw, overrides or [])
    return validate_config(raw, source)


def validate_config(raw: dict[str, Any], source: str = "config") -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        # not chained: pydantic's error repeats every input as given, a credential included; the
        # message lists each field, masked
        raise ConfigError(describe_invalid(exc, f"configuration in {source}")) from None


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with each ``a.b.c=value`` applied (value parsed as YAML)."""
    result = _deep_copy(raw)
    for item in overrides:
        shown = redact_setting(item)  # an error names the override, never its credentials
        if "=" not in item:
            raise ConfigError(f"override '{shown}': expected the form section.key=value")
        key, value = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"override '{shown}': empty key")
        node = result
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override '{shown}': '{part}' is not a section")
            node = child
        try:
            node[parts[-1]] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"override '{shown}': the value is not valid YAML") from None
    return result


def config_hash(cfg: ExperimentConfig) -> str:
    return stable_hash(cfg.model_dump(mode="json"))


def to_params_yaml(cfg: ExperimentConfig, path: str | os.PathLike[str]) -> Path:
    """Write the config grouped by stage, as DVC reads it from ``params.yaml``."""
    text = yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
    return write_text(path, text)


def _deep_copy(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in raw.items()}
