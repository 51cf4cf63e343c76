"""Devices added to an experiment: the registry, the ``elasticvit device`` commands, onboarding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from elasticvit.config import load_config
from elasticvit.config.io import config_hash
from elasticvit.latency import DeviceError, load_device, table_path
from elasticvit.latency.registry import add_device, added_dir, device_spec, experiment_devices, remove_device
from tests.test_search_stage import DEVICES, _overrides
from tests.test_search_stage import stage_root  # noqa: F401  (fixture: prepared data, supernet, tables)

NEW = {"name": "torch-cpu-1t-b2", "backend": "torch-eager", "threads": 1, "batch_size": 2, "clock": "thread"}


def _spec_file(tmp_path: Path, **fields: object) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**NEW, **fields}))
    return path


def _cfg(tmp_path: Path):
    return load_config("quickstart", [f"storage.artifacts_dir={tmp_path / 'artifacts'}"])


def test_an_added_device_joins_the_experiment_without_changing_its_config(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    before = config_hash(cfg)
    spec = add_device(cfg, _spec_file(tmp_path))
    assert experiment_devices(cfg) == [*cfg.latency.devices, NEW["name"]]
    assert device_spec(cfg, NEW["name"]) == spec == load_device(_spec_file(tmp_path))
    assert config_hash(_cfg(tmp_path)) == before
    assert add_device(cfg, _spec_file(tmp_path)) == spec  # the same spec again: nothing changes
    assert sorted(p.name for p in added_dir(cfg).iterdir()) == [f"{NEW['name']}.yaml"]
    remove_device(cfg, NEW["name"])
    assert experiment_devices(cfg) == list(cfg.latency.devices)
    with pytest.raises(DeviceError, match="unknown device 'torch-cpu-1t-b2'.*device add"):
        device_spec(cfg, NEW["name"])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"backend": None}, "backend"),
        ({"backend": "tflite"}, "unknown backend 'tflite' \\(registered: .*torch-eager"),
        ({"name": "torch-cpu-1t"}, "already part of experiment 'quickstart' with other settings"),
        ({"threads": 2}, "clock 'thread' needs threads: 1"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_file_and_nothing_is_added(tmp_path: Path, fields, message) -> None:
    cfg = _cfg(tmp_path)
    path = _spec_file(tmp_path, **fields)
    with pytest.raises(DeviceError, match=message) as caught:
        add_device(cfg, path)
    assert str(path) in str(caught.value)
    assert experiment_devices(cfg) == list(cfg.latency.devices) and not added_dir(cfg).exists()


def test_re_adding_a_device_with_another_calibration_count_updates_it(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    add_device(cfg, _spec_file(tmp_path))
    assert device_spec(cfg, NEW["name"]).calibration_archs == 30
    updated = add_device(cfg, _spec_file(tmp_path, calibration_archs=60))
    assert updated.calibration_archs == device_spec(cfg, NEW["name"]).calibration_archs == 60
    assert sorted(p.name for p in added_dir(cfg).iterdir()) == [f"{NEW['name']}.yaml"]
    # a configured device's count lives in its device file: the error says where
    configured = tmp_path / "configured.yaml"
    configured.write_text(yaml.safe_dump({**load_device("torch-cpu-1t").model_dump(mode="json"), "calibration_archs": 5}))
    with pytest.raises(DeviceError, match=r"configured in latency.devices.*change its calibration_archs, edit .*torch-cpu-1t.yaml"):
        add_device(cfg, configured)
    assert device_spec(cfg, "torch-cpu-1t").calibration_archs == load_device("torch-cpu-1t").calibration_archs


def test_a_configured_device_cannot_be_removed_and_an_unknown_one_is_named(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    with pytest.raises(DeviceError, match="configured in latency.devices"):
        remove_device(cfg, "torch-cpu-1t")
    with pytest.raises(DeviceError, match="'nope' was not added .*added: none"):
        remove_device(cfg, "nope")


def test_cli_add_list_remove(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["-c", "quickstart", "-s", f"storage.artifacts_dir={tmp_path / 'artifacts'}"]
    bad = _spec_file(tmp_path, batch_size=-1)
    result = runner.invoke(app, ["device", "add", str(bad), *base, "--no-onboard"])
    assert result.exit_code == 2 and "batch_size" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "artifacts" / "devices").exists()
    good = _spec_file(tmp_path)
    result = runner.invoke(app, ["device", "add", str(good), *base, "--no-onboard"], env={"PREFECT_API_URL": ""})
    assert result.exit_code == 0, result.output
    assert f"added {NEW['name']}" in result.output
    listed = runner.invoke(app, ["device", "list", *base]).output.splitlines()
    assert [line.split()[:2] for line in listed] == [
        ["torch-cpu-1t", "configured"], ["torch-cpu-2t", "configured"], ["onnx-cpu-1t", "configured"],
        [NEW["name"], "added"],
    ]
    result = runner.invoke(app, ["device", "add", str(good), *base], env={"PREFECT_API_URL": ""})
    assert result.exit_code == 2 and "--local" in result.output  # no worker can measure it: says how
    assert runner.invoke(app, ["device", "remove", NEW["name"], *base]).exit_code == 0
    result = runner.invoke(app, ["device", "remove", "torch-cpu-1t", *base])
    assert result.exit_code == 2 and "configured in latency.devices" in result.output


@pytest.mark.slow
def test_onboarding_a_new_device_times_the_baselines_and_extends_the_comparison(
    stage_root: Path, tmp_path: Path, sqlite_tracking: str, prefect_api: str
) -> None:
    import mlflow

    from elasticvit.baselines import BaselineResult, Budget, run_baseline
    from elasticvit.baselines.report import COMPARISON_JSON
    from flows.mlflow_runs import COMPARED_RUNS
    from flows.onboard import onboard_device
    from flows.search import search_device_flow
    from tasks.tracking import COMPARABLE_METRICS

    overrides = [
        *_overrides(stage_root), f"storage.artifacts_dir={stage_root / 'artifacts'}",
        f"baselines.output_dir={stage_root / 'baselines'}", "baselines.models=[resnet10t]",
        "latency.calibration_archs=3", "latency.validate_archs=3",
    ]
    cfg = load_config("quickstart", overrides)
    search_device_flow(DEVICES[0], "quickstart", overrides)
    trained = run_baseline(cfg, "resnet10t", cfg.data.output_dir, Budget(epochs=1))
    assert set(trained.latency) == set(DEVICES)
    add_device(cfg, _spec_file(tmp_path))

    result = onboard_device(NEW["name"], "quickstart", overrides, on_device_pool=False)

    assert table_path(cfg.latency.output_dir, NEW["name"]).exists()
    assert result.device == NEW["name"] and Path(result.export.exports).exists()
    assert {r.device for r in result.rows} == {NEW["name"]}
    assert "baseline resnet10t" in [r.model for r in result.rows]
    timed = BaselineResult.load(stage_root / "baselines" / "models" / "resnet10t" / "result.json")
    assert timed.latency[DEVICES[0]] == trained.latency[DEVICES[0]]  # nothing retrained or re-timed
    assert timed.latency_ms(NEW["name"]) > 0 and timed.train == trained.train
    comparison = json.loads((stage_root / "baselines" / "comparison" / COMPARISON_JSON).read_text())
    assert {row["device"] for row in comparison["rows"]} >= {DEVICES[0], NEW["name"]}
    runs = mlflow.search_runs(experiment_names=[cfg.tracking.experiment],
                              filter_string=f"tags.device = '{NEW['name']}'", output_format="list")
    # one run per chosen subnet (device, budget) and one per baseline on the device, with the same figures
    subnets = [run for run in runs if run.data.tags.get("kind") == "subnet"]
    baselines = [run for run in runs if run.data.tags.get("kind") == "baseline"]
    assert len(subnets) == len(result.search.budgets) and len(baselines) == 1
    assert {run.data.tags["budget_ms"] for run in subnets} == {f"{b.budget_ms:.4f}" for b in result.search.budgets}
    assert all(set(run.data.metrics) >= set(COMPARABLE_METRICS) for run in subnets + baselines)
    assert {run.data.tags["latency_source"] for run in baselines} == {"measured"}
    assert all(run.data.tags["config_hash"] == config_hash(cfg) for run in subnets + baselines)
    # what the printed runs table lists for the device: exactly those
    compared = mlflow.search_runs(experiment_names=[cfg.tracking.experiment], output_format="list",
                                  filter_string=f"{COMPARED_RUNS} and tags.device = '{NEW['name']}'")
    assert sorted(run.info.run_id for run in compared) == sorted(run.info.run_id for run in subnets + baselines)
    # the table's run says whether its validation trusts it (the search refuses an untrusted one)
    from elasticvit.latency.validate import ValidationReport
    from elasticvit.layout import validation_path

    report = ValidationReport.model_validate_json(validation_path(table_path(cfg.latency.output_dir, NEW["name"])).read_text())
    latency_runs = [run for run in runs if run.data.tags.get("stage") == "latency"]
    assert latency_runs and {run.data.tags["latency_trusted"] for run in latency_runs} == {str(report.trusted).lower()}
