"""The ``elasticvit latency`` commands: user errors end with one clear line and exit code 2."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.main import app


def test_unknown_device_is_reported() -> None:
    result = CliRunner().invoke(app, ["latency", "collect", "--device", "no-such-device"])
    assert result.exit_code == 2
    assert "unknown device 'no-such-device'" in result.output


def test_validate_without_a_table_says_to_collect(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["latency", "validate", "--device", "torch-cpu-1t", "--set", f"latency.output_dir={tmp_path}", "--no-progress"]
    )
    assert result.exit_code == 2
    assert "no latency table" in result.output and "collect" in result.output


def test_unknown_space_is_reported() -> None:
    result = CliRunner().invoke(app, ["latency", "collect", "--device", "torch-cpu-1t", "--space", "no-such-space"])
    assert result.exit_code == 2
    assert "no-such-space" in result.output


def test_head_size_needs_prepared_data_or_the_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["latency", "collect", "--device", "torch-cpu-1t", "--set", f"data.output_dir={tmp_path}", "--no-progress"]
    )
    assert result.exit_code == 2
    assert "--num-classes" in result.output and str(tmp_path) in result.output
