"""Shared fixtures: real servers (Prefect, MLflow, moto S3) started once per session, on 127.0.0.1."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Keep Prefect's database and result store out of the user's home, before Prefect is imported.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="elasticvit-prefect-home-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The session's server stops before the interpreter exits; shipping logs to it would then fail noisily.
os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")

# Prefect binds its console log handler to sys.stderr when it first configures logging. Do that now,
# on pytest's session-long stream: first done inside a test that swaps sys.stderr (typer's
# CliRunner, capsys), the handler would keep a stream closed after that test and every later log
# line would fail.
from prefect.logging.configuration import ensure_logging_setup  # noqa: E402

ensure_logging_setup()

from infra.stack import free_port, mlflow_service, prefect_service, s3_service, start, stop  # noqa: E402

SHARED_CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10"
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def prefect_server(stack_dir: Path) -> Iterator[str]:
    """A real ``prefect server start`` for the session; yields its API URL."""
    service = prefect_service(stack_dir / "prefect-state", port=free_port())
    start(service, stack_dir)
    yield service.health_url.removesuffix("/health")
    stop(service.name, stack_dir)


@pytest.fixture
def prefect_api(prefect_server: str) -> Iterator[str]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: prefect_server}):
        yield prefect_server


@pytest.fixture(scope="session")
def s3_server(stack_dir: Path) -> Iterator[str]:
    """A real moto S3 server process; yields its endpoint URL."""
    service = s3_service(port=free_port())
    start(service, stack_dir)
    yield service.health_url.removesuffix("/moto-api/")
    stop(service.name, stack_dir)


@pytest.fixture
def s3_env(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for key, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ELASTICVIT_S3_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", s3_server)
    return s3_server


@pytest.fixture(scope="session")
def mlflow_server(stack_dir: Path, s3_server: str) -> Iterator[dict[str, str]]:
    """A real ``mlflow server`` on SQLite with artifacts proxied to the moto S3 server."""
    import boto3

    bucket = "mlflow-artifacts"
    boto3.client("s3", endpoint_url=s3_server, **_boto_credentials()).create_bucket(Bucket=bucket)
    service = mlflow_service(
        stack_dir / "mlflow-state",
        port=free_port(),
        artifacts=f"s3://{bucket}/artifacts",
        env={**S3_CREDENTIALS, "MLFLOW_S3_ENDPOINT_URL": s3_server},
    )
    start(service, stack_dir)
    yield {"uri": service.health_url.removesuffix("/health"), "bucket": bucket, "s3": s3_server}
    stop(service.name, stack_dir)


@pytest.fixture
def sqlite_tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the code at a fresh SQLite-backed MLflow store for one test."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("ELASTICVIT_TRACKING_URI", uri)
    return uri


@pytest.fixture
def shared_cifar() -> Path:
    if not (SHARED_CIFAR / "train.npz").exists():
        pytest.skip(f"real CIFAR-10 split not found at {SHARED_CIFAR} (only present beside CI's clone)")
    return SHARED_CIFAR


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_CREDENTIALS["AWS_DEFAULT_REGION"],
    }
