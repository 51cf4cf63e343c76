"""Credentials never reach what is logged: URL user-info and secret-named keys are masked."""

from __future__ import annotations

import os
import traceback
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from elasticvit.config import load_config
from elasticvit.config.io import ConfigError
from elasticvit.utils.redact import redact_setting, redact_text, redact_value


def test_url_credentials_and_secret_keys_are_masked() -> None:
    assert redact_text("https://user:PASSWORD@host/a.tgz") == "https://***@host/a.tgz"
    assert redact_text("s3://KEY@bucket/x and http://h/p") == "s3://***@bucket/x and http://h/p"
    assert redact_text("https://host/path@v2") == "https://host/path@v2"  # an @ in the path is not user-info
    assert redact_value("storage.aws_secret_access_key", "abc") == "***"
    assert redact_value("tracking.api_token", "abc") == "***"
    assert redact_setting("storage.password=hunter2") == "storage.password=***"
    assert redact_setting("data.url=https://u:PW@h/x") == "data.url=https://***@h/x"
    assert redact_setting("training.lr=0.002") == "training.lr=0.002"
    assert redact_setting("a sentence = with spaces") == "a sentence = with spaces"
    assert redact_value("data.url", "https://u:p@h/x") == "https://***@h/x"
    assert redact_value("training.lr", "0.002") == "0.002"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("data.url=https://alice:HUNTER2@example.invalid/data.tgz", r"data\.url: holds credentials"),
        ("training.teacher=https://alice:HUNTER2@example.invalid/t.pt", r"training\.teacher: holds credentials"),
        ("baselines.models=[https://alice:HUNTER2@example.invalid/m]", r"baselines\.models: holds credentials"),
        ("data.url https://alice:HUNTER2@example.invalid/data.tgz", r"override 'data\.url .*section\.key=value"),
        ("data.url=[https://alice:HUNTER2@example.invalid/data.tgz", r"override 'data\.url=.*not valid YAML"),
    ],
)
def test_a_config_refuses_credentials_and_its_error_does_not_repeat_them(override: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named) as caught:
        load_config("quickstart", [override])
    assert "https://***@example.invalid" in str(caught.value)
    # nor does its traceback, which a flow run logs to Prefect (pydantic's own error repeats the input)
    assert "HUNTER2" not in "".join(traceback.format_exception(caught.value))


def test_an_override_whose_key_names_a_secret_is_masked_in_its_error() -> None:
    override = "storage.password=[HUNTER2"  # a variable: the traceback quotes the calling line
    with pytest.raises(ConfigError, match=r"override 'storage\.password=\*\*\*': the value is not valid YAML") as caught:
        load_config("quickstart", [override])
    assert "HUNTER2" not in "".join(traceback.format_exception(caught.value))


def test_a_password_that_reaches_logging_anyway_is_masked_in_mlflow_params(sqlite_tracking: str) -> None:
    from tasks.tracking import log_flat_params, stage_run

    cfg = load_config("quickstart")
    # a config can no longer hold it (above): bypass validation to prove the second line of defence
    data = cfg.data.model_copy(update={"url": "https://alice:HUNTER2@example.invalid/data.tgz"})
    with stage_run(cfg, "prepare") as run:
        log_flat_params("data", data)
    stored = MlflowClient(sqlite_tracking).get_run(run.info.run_id).data
    assert stored.params["data.url"] == "https://***@example.invalid/data.tgz"
    assert not any("HUNTER2" in v for v in [*stored.params.values(), *stored.tags.values()])


OVERRIDE_SECRET = "Pw7xQ2k"
"""Short, and so is its URL: pydantic's error would shorten a long input to its ends, hiding a leak."""
RUNS_TAG = "test-redact-override"


@pytest.mark.servers
def test_a_password_given_as_an_override_reaches_neither_prefect_nor_mlflow(
    tmp_path: Path, prefect_api: str, sqlite_tracking: str, stack_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import tags
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_LOGGING_TO_API_ENABLED, temporary_settings

    from cli.main import app
    from flows.pipeline import pipeline
    from flows.stages import train_flow

    monkeypatch.chdir(tmp_path)  # MLflow's default artifact folder (./mlruns) lands beside its database
    url = f"https://alice:{OVERRIDE_SECRET}@127.0.0.1/x.tar.gz"
    overrides = [f"data.url={url}", f"data.output_dir={tmp_path}/data", f"training.output_dir={tmp_path}/train"]
    # the suite keeps flow logs off the server; a deployment's run sends them
    with temporary_settings(updates={PREFECT_LOGGING_TO_API_ENABLED: True}), tags(RUNS_TAG):
        for command in ("run", "train"):
            result = CliRunner().invoke(app, [command, *(arg for o in overrides for arg in ("-s", o))])
            assert result.exit_code == 2 and "data.url: holds credentials" in result.stderr, result.output
            assert OVERRIDE_SECRET not in result.output
        assert _flow_runs() == []  # the CLI refuses it before any flow run is created
        # called from Python, Prefect creates the run (and stores its parameters) before the config check
        for flow in (pipeline, train_flow):
            with pytest.raises(ConfigError, match=r"data\.url: holds credentials"):
                flow("quickstart", overrides)
        APILogWorker.drain_all(timeout=10)

    runs = _flow_runs()
    assert sorted(r.parameters["overrides"][0] for r in runs) == ["data.url=https://***@127.0.0.1/x.tar.gz"] * 2
    assert all(r.state is not None and r.state.is_failed() and "holds credentials" in r.state.message for r in runs)
    assert any("holds credentials" in log.message for log in _logs(runs))  # what the runs logged did reach the server
    # Prefect's database (WAL included) and result store; the MLflow database and its artifacts
    stores = [stack_dir / "prefect-state", Path(os.environ["PREFECT_HOME"]), tmp_path]
    files = [p for root in stores for p in root.rglob("*") if p.is_file()]
    assert [p for p in files if OVERRIDE_SECRET.encode() in p.read_bytes()] == []


def _flow_runs() -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[RUNS_TAG])))


def _logs(runs: list) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[r.id for r in runs])))


DEPLOYED_SECRET = "S3CRETPW"


@pytest.mark.servers
def test_a_deployment_refuses_a_run_whose_parameters_hold_a_credential(tmp_path: Path, prefect_api: str, stack_dir: Path) -> None:
    """Started from outside (UI, API, ``prefect deployment run --param``), a run's parameters reach
    Prefect's server before any code of ours: its schema check refuses them, storing nothing."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectHTTPStatusError

    from flows.deploy import deploy, deployment_specs

    (spec,) = [s for s in deployment_specs("quickstart") if s.name == "prepare"]
    deployment_id = deploy([spec])["prepare"]
    refused = [
        {"overrides": [f"data.url=https://user:{DEPLOYED_SECRET}@127.0.0.1/x.tgz"]},
        {"overrides": [f"data.url=HTTPS://{DEPLOYED_SECRET}@127.0.0.1/x.tgz"]},
        {"overrides": [f"storage.Password={DEPLOYED_SECRET}"]},  # a secret-named key: its value is the secret
        {"config": f"https://user:{DEPLOYED_SECRET}@127.0.0.1/experiment.yaml"},
    ]
    with get_client(sync_client=True) as client:
        before = {r.id for r in _deployment_runs(client, deployment_id)}
        for parameters in refused:
            with pytest.raises(PrefectHTTPStatusError, match="409 Conflict"):
                client.create_flow_run_from_deployment(deployment_id, parameters=parameters)
        clean = [f"data.output_dir={tmp_path}/data@v2", "data.url=https://127.0.0.1/token/x.tgz"]  # an @ or a secret's name in a value is fine
        run = client.create_flow_run_from_deployment(deployment_id, parameters={"overrides": clean})
        assert run.parameters == {"config": "quickstart", "overrides": clean}
        assert {r.id for r in _deployment_runs(client, deployment_id)} - before == {run.id}
        client.delete_flow_run(run.id)  # a worker of a later test on the pool would run it

    # Prefect's database (WAL included) and everything else its server and the client wrote
    files = [p for root in (stack_dir, Path(os.environ["PREFECT_HOME"])) for p in root.rglob("*") if p.is_file()]
    assert [p for p in files if DEPLOYED_SECRET.encode() in p.read_bytes()] == []


def _deployment_runs(client, deployment_id) -> list:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    return client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
