"""The team stack's docker-compose file is consistent with the settings the code reads."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import yaml

from elasticvit.config import Settings

INFRA = Path(__file__).resolve().parents[1] / "infra"
COMPOSE = yaml.safe_load((INFRA / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in SERVICES[service].get("environment", {}).items()}


def test_services_present() -> None:
    assert {"postgres", "minio", "minio-init", "prefect-server", "mlflow", "worker"} <= set(SERVICES)


def test_published_ports_bind_loopback_only() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond 127.0.0.1"


def test_named_volumes_are_declared() -> None:
    declared = set(COMPOSE.get("volumes", {}))
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_no_literal_secrets_and_example_env_covers_them() -> None:
    example = {
        line.split("=")[0]
        for line in (INFRA / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    text = (INFRA / "docker-compose.yml").read_text()
    for name in SERVICES:
        for key, value in _env(name).items():
            if re.search(r"PASSWORD|SECRET", key):
                assert value.startswith("${"), f"{name}.{key} holds a literal secret"
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required and required <= example


def test_worker_env_matches_settings_and_service_ports() -> None:
    env = _env("worker")
    fields = {f"ELASTICVIT_{name.upper()}" for name in Settings.model_fields}
    ours = {k for k in env if k.startswith("ELASTICVIT_")}
    assert ours and ours <= fields
    ports = {
        name: {int(str(p).split(":")[-1]) for p in service.get("ports", [])} for name, service in SERVICES.items()
    }
    for var, service in [
        ("ELASTICVIT_TRACKING_URI", "mlflow"),
        ("PREFECT_API_URL", "prefect-server"),
        ("ELASTICVIT_S3_ENDPOINT_URL", "minio"),
    ]:
        url = urlparse(env[var])
        assert url.hostname == service and url.port in ports[service], (var, env[var])


def test_mlflow_artifacts_go_to_a_bucket_that_init_creates() -> None:
    command = SERVICES["mlflow"]["command"]
    bucket = re.search(r"--artifacts-destination s3://([\w-]+)/", command).group(1)
    assert f"local/{bucket}" in SERVICES["minio-init"]["entrypoint"]
