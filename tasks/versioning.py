"""DVC versioning of artifacts on an S3 remote: configure the remote, push with retries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import boto3
from prefect import task

from elasticvit.config import ExperimentConfig, Settings, load_config
from tasks.retries import retry_unless_bad_input

REMOTE = "storage"


class ArtifactPushError(RuntimeError):
    """``dvc push`` kept failing; the local cache and workspace are untouched."""


def s3_client(settings: Settings | None = None):
    """A boto3 S3 client for the configured endpoint; credentials from settings or the environment."""
    settings = settings or Settings()
    kwargs: dict[str, str] = {"region_name": settings.aws_region}
    if settings.s3_endpoint_url:
        kwargs["endpoint_url"] = settings.s3_endpoint_url
    if settings.aws_access_key_id and settings.aws_secret_access_key:
        kwargs["aws_access_key_id"] = settings.aws_access_key_id.get_secret_value()
        kwargs["aws_secret_access_key"] = settings.aws_secret_access_key.get_secret_value()
    return boto3.client("s3", **kwargs)


def ensure_bucket(bucket: str, settings: Settings | None = None) -> None:
    client = s3_client(settings)
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)


def configure_s3_remote(repo: Path, bucket: str, prefix: str, endpoint_url: str | None) -> None:
    """Make ``s3://bucket/prefix`` the repository's default DVC remote (idempotent)."""
    _dvc(repo, "remote", "add", "--default", "--force", REMOTE, f"s3://{bucket}/{prefix}")
    if endpoint_url:
        _dvc(repo, "remote", "modify", REMOTE, "endpointurl", endpoint_url)


@task(name="dvc-push", retries=2, retry_delay_seconds=2, retry_condition_fn=retry_unless_bad_input)
def dvc_push(repo: Path, targets: list[str] | None = None) -> str:
    """Push the tracked artifacts to the default remote; raise ArtifactPushError when it fails."""
    out = subprocess.run(
        [sys.executable, "-m", "dvc", "push", "--quiet", *(targets or [])],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        detail = (out.stderr or out.stdout).strip().splitlines()
        raise ArtifactPushError(
            f"dvc push from {repo} to remote '{REMOTE}' failed (exit {out.returncode}): "
            f"{detail[-1] if detail else 'no output'}; local artifacts are intact, push again later"
        )
    return out.stdout


@task(name="dvc-commit")
def commit_pipeline(cfg: ExperimentConfig, repo: str | None = None) -> str:
    """Record the pipeline's outputs in ``dvc.lock`` and point the repository at the S3 remote.

    The flow ran the stages itself, so ``dvc commit`` (not ``dvc repro``) hashes what they wrote;
    that is only honest when ``params.yaml`` is this run's config, which is checked first.
    """
    root = Path(repo or Path.cwd()).resolve()
    if not (root / "dvc.yaml").exists() or not (root / ".dvc").is_dir():
        raise ValueError(f"storage.s3_bucket is set but {root} is not a DVC repository with dvc.yaml")
    params = root / "params.yaml"
    if not params.exists() or load_config(params) != cfg:
        raise ValueError(
            f"{params} is not this run's config, so dvc.lock would misdescribe the artifacts: "
            f"write it with `elasticvit params -c {cfg.name}` (and the same --set options) before the run"
        )
    settings = Settings()
    ensure_bucket(cfg.storage.s3_bucket, settings)
    configure_s3_remote(root, cfg.storage.s3_bucket, cfg.storage.s3_prefix, settings.s3_endpoint_url)
    _dvc(root, "commit", "--force", "--quiet")
    return str(root)


def _dvc(repo: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, check=True, capture_output=True, text=True)
