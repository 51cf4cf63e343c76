import os
from pathlib import Path

import pytest
import yaml

from elasticvit.config import (
    ConfigError,
    ExperimentConfig,
    Settings,
    load_config,
    to_params_yaml,
)
from elasticvit.config.io import CONFIG_DIR, apply_overrides, config_hash


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("name", ["quickstart", "cifar10"])
def test_shipped_configs_load(name: str) -> None:
    cfg = load_config(name)
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.name == name


def test_unknown_key_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"training\.epochz: unknown key"):
        load_config(_write(tmp_path, {"training": {"epochz": 3}}))


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"training\.batch_size"):
        load_config(_write(tmp_path, {"training": {"batch_size": "many"}}))


def test_out_of_range_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.val_fraction"):
        load_config(_write(tmp_path, {"data": {"val_fraction": 1.5}}))
    with pytest.raises(ConfigError, match=r"sampling\.exploit_prob_end"):
        load_config(overrides=["sampling.exploit_prob_end=2"])


def test_cross_field_rules() -> None:
    with pytest.raises(ConfigError, match="leave some training data"):
        load_config(overrides=["data.val_fraction=0.5", "data.test_fraction=0.5"])
    with pytest.raises(ConfigError, match="data.path is required"):
        load_config(overrides=["data.source=npz"])
    with pytest.raises(ConfigError, match="parents must not exceed"):
        load_config(overrides=["search.population=4", "search.parents=5"])


def test_overrides_apply_and_do_not_mutate_input() -> None:
    raw = {"training": {"epochs": 1}}
    out = apply_overrides(raw, ["training.epochs=5", "sampling.strategy=uniform", "latency.devices=[a, b]"])
    assert raw == {"training": {"epochs": 1}}
    cfg = load_config(overrides=["training.epochs=5", "latency.devices=[torch-cpu-1t]"])
    assert cfg.training.epochs == 5 and cfg.latency.devices == ["torch-cpu-1t"]
    assert out["latency"]["devices"] == ["a", "b"]
    with pytest.raises(ConfigError, match="section.key=value"):
        apply_overrides({}, ["training.epochs"])


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_params_yaml_round_trip(tmp_path: Path) -> None:
    cfg = load_config("quickstart", ["training.epochs=3"])
    path = to_params_yaml(cfg, tmp_path / "params.yaml")
    assert set(yaml.safe_load(path.read_text())) >= {"data", "training", "sampling", "latency", "search"}
    again = load_config(path)
    assert again == cfg and config_hash(again) == config_hash(cfg)


def test_config_dir_is_independent_of_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config("quickstart").name == "quickstart"
    assert (CONFIG_DIR / "quickstart.yaml").exists()


def test_settings_from_environment_keep_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELASTICVIT_TRACKING_URI", "http://127.0.0.1:5999")
    monkeypatch.setenv("ELASTICVIT_AWS_SECRET_ACCESS_KEY", "s3cr3t")
    settings = Settings()
    assert settings.tracking_uri == "http://127.0.0.1:5999"
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings.model_dump())
    assert settings.aws_secret_access_key.get_secret_value() == "s3cr3t"


def test_checked_in_params_yaml_is_the_quickstart_config() -> None:
    # dvc.yaml reads params.yaml; regenerate it with `elasticvit params -c quickstart` after a change
    assert load_config(Path(__file__).resolve().parents[1] / "params.yaml") == load_config("quickstart")


def test_configs_dir_can_be_named_by_the_environment(tmp_path) -> None:
    # a team's own set of configs, used instead of the shipped ones
    import shutil
    import subprocess
    import sys

    shutil.copytree(CONFIG_DIR, tmp_path / "configs")
    text = (tmp_path / "configs" / "quickstart.yaml").read_text()
    (tmp_path / "configs" / "quickstart.yaml").write_text(text.replace("name: quickstart", "name: elsewhere", 1))
    code = "from elasticvit.config import load_config; print(load_config('quickstart').name)"
    env = {**os.environ, "ELASTICVIT_CONFIGS": str(tmp_path / "configs")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "elsewhere"
