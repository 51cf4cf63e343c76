"""bench.quickstart's pieces that need no clone: the README's command, the figures from a report."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.quickstart import readme_commands, summarize
from elasticvit.baselines import Comparison
from elasticvit.report import RunReport
from elasticvit.space import load_space
from tests.test_baselines import make_baseline_result
from tests.test_report import _export

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_command_splits_into_install_and_quickstart(tmp_path: Path) -> None:
    assert readme_commands(ROOT / "README.md") == ("bash infra/install.sh", ".venv/bin/elasticvit quickstart")
    bad = tmp_path / "README.md"
    bad.write_text("```bash\n.venv/bin/elasticvit quickstart\n```\n")
    with pytest.raises(ValueError, match="expected '<install> && <quickstart>'"):
        readme_commands(bad)
    bad.write_text("no commands here\n")
    with pytest.raises(ValueError, match="no bash block"):
        readme_commands(bad)


def test_summary_takes_each_devices_weakest_subnet_and_its_baselines() -> None:
    arch = load_space("digits").smallest()
    one, other = _export("torch-cpu-1t", arch), _export("onnx-cpu-1t", arch)
    weaker = one.models[0].model_copy(update={"name": "weak", "test_accuracy": 0.5, "measured_ms": 3.0})
    one = one.model_copy(update={"models": [*one.models, weaker]})
    baseline = make_baseline_result("resnet18", 0.9, {"torch-cpu-1t": 4.0})  # not timed on onnx-cpu-1t
    report = RunReport(title="t", exports=[one, other], comparison=Comparison(paretos=[], rows=[]), breakdowns=[],
                       baselines=[baseline], stage_s={"latency": 61.23, "train": 100.0})
    figures = summarize(report)
    assert figures["latency_s"] == 61.2
    assert figures["devices"]["torch-cpu-1t"]["subnet_test_acc"] == 0.5
    assert figures["devices"]["torch-cpu-1t"]["subnet_ms"] == 3.0
    assert figures["devices"]["torch-cpu-1t"]["baselines"] == [{"model": "resnet18", "test_acc": 0.9, "ms": 4.0}]
    assert figures["devices"]["onnx-cpu-1t"]["baselines"] == []
