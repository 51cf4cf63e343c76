"""Credentials never reach what is logged: URL user-info and secret-named keys are masked."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from elasticvit.config import load_config
from elasticvit.config.io import ConfigError
from elasticvit.utils.redact import redact_text, redact_value


def test_url_credentials_and_secret_keys_are_masked() -> None:
    assert redact_text("https://user:PASSWORD@host/a.tgz") == "https://***@host/a.tgz"
    assert redact_text("s3://KEY@bucket/x and http://h/p") == "s3://***@bucket/x and http://h/p"
    assert redact_text("https://host/path@v2") == "https://host/path@v2"  # an @ in the path is not user-info
    assert redact_value("storage.aws_secret_access_key", "abc") == "***"
    assert redact_value("tracking.api_token", "abc") == "***"
    assert redact_value("data.url", "https://u:p@h/x") == "https://***@h/x"
    assert redact_value("training.lr", "0.002") == "0.002"


def test_a_config_refuses_credentials_and_its_error_does_not_repeat_them() -> None:
    with pytest.raises(ConfigError, match=r"data\.url: holds credentials") as caught:
        load_config("quickstart", ["data.url=https://alice:HUNTER2@example.invalid/data.tgz"])
    assert "HUNTER2" not in str(caught.value) and "https://***@example.invalid" in str(caught.value)


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
