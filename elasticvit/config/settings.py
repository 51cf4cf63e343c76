"""Environment-specific settings: server addresses and credentials, never in YAML or logs."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Read from ``ELASTICVIT_*`` variables (and standard AWS ones for credentials)."""

    model_config = SettingsConfigDict(env_prefix="ELASTICVIT_", extra="ignore")

    tracking_uri: str = "sqlite:///mlflow.db"
    s3_endpoint_url: str | None = None
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_region: str = "us-east-1"
    # HTTP basic auth for dataset downloads (``data.url`` itself may not hold credentials)
    download_username: str | None = None
    download_password: SecretStr | None = None
