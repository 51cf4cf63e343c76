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


def test_secrets_come_only_from_the_env_file_and_never_reach_a_command_line() -> None:
    example = {
        line.split("=")[0]
        for line in (INFRA / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    text = (INFRA / "docker-compose.yml").read_text()
    assert not re.findall(r"(?<!\$)\$\{?\w*(PASSWORD|SECRET)", text), "compose interpolates a secret into the file"
    for name, service in SERVICES.items():
        assert not any(re.search(r"PASSWORD|SECRET", key) for key in _env(name)), f"{name} sets a secret inline"
        launch = " ".join(str(service.get(k, "")) for k in ("command", "entrypoint"))
        used = set(re.findall(r"\$\$(\w+)", launch)) | set(re.findall(r"\$\$(\w+)", str(service.get("healthcheck", ""))))
        if used:
            assert service.get("env_file") == ".env", f"{name} reads {used} but not infra/.env"
            assert used <= example, f"{name} reads {used - example}, missing from .env.example"
        # a secret expanded in an argument would be visible in the process list: only exports and
        # environment assignments before exec may hold it
        for line in re.split(r"&&|\n", launch):
            if re.search(r"\$\$\w*(PASSWORD|SECRET)", line):
                assert re.match(r"\s*(sh -c ')?(export )?\w+=", line), f"{name} passes a secret as an argument: {line}"


def test_images_are_pinned_and_mlflow_drivers_are_built_in() -> None:
    for name, service in SERVICES.items():
        if "image" in service:
            assert ":" in service["image"] and not service["image"].endswith(":latest"), f"{name}: {service['image']}"
    dockerfile = (INFRA / SERVICES["mlflow"]["build"]["dockerfile"]).read_text()
    assert "pip install" not in str(SERVICES["mlflow"].get("command", ""))
    assert re.findall(r"[\w-]+==[\w.]+", dockerfile), "the MLflow image pins its drivers"


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
    command = SERVICES["mlflow"]["command"]  # arguments to the image's ``mlflow server`` entrypoint
    bucket = re.search(r"--artifacts-destination s3://([\w-]+)/", command).group(1)
    assert f"local/{bucket}" in SERVICES["minio-init"]["entrypoint"]
