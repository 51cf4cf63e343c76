"""``elasticvit space``: the statistics and samples a user reads before choosing a space."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from cli.main import app
from elasticvit.space import Arch, arch_macs, load_space


def test_stats_prints_the_range_and_a_histogram_of_every_sample() -> None:
    result = CliRunner().invoke(app, ["space", "stats", "--space", "cifar", "--samples", "50", "--bins", "5"])
    assert result.exit_code == 0, result.output
    space = load_space("cifar")
    smallest = arch_macs(space, space.smallest(), 10) / 1e6
    assert f"{smallest:9.2f} M MACs" in result.output
    rows = re.findall(r"\|\s*#*\s+(\d+)$", result.output, flags=re.MULTILINE)
    assert len(rows) == 5 and sum(map(int, rows)) == 50


def test_sample_prints_archs_that_load_back() -> None:
    result = CliRunner().invoke(app, ["space", "sample", "--space", "cifar", "-n", "3"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    space = load_space("cifar")
    assert len(records) == 3
    for record in records:
        arch = space.validate_arch(Arch.model_validate(record["arch"]))
        assert arch.id == record["id"] and arch_macs(space, arch, 10) == record["macs"]
