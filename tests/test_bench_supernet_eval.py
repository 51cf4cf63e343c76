"""bench.supernet_eval's progress lines, for benchmarks running unattended."""

import logging

from bench.supernet_eval import LogProgress
from elasticvit.training.records import StepMetrics


def _step(metrics: dict[str, float]) -> StepMetrics:
    return StepMetrics(step=10, total_steps=None, epoch=1, level=None, arch_ids=[], metrics=metrics)


def test_the_step_line_shows_grad_cos_only_when_the_loop_measured_it(caplog):
    progress = LogProgress("run", every=10)
    with caplog.at_level(logging.INFO, logger="bench"):
        progress.on_step(_step({"loss": 1.5, "grad_cos_prev_step": 0.25}))
        progress.on_step(_step({"loss": 1.25}))  # a single model: no gradient telemetry
    supernet, single = (r.getMessage() for r in caplog.records)
    assert "step 10/?: loss 1.500, grad cos 0.250" in supernet
    assert "step 10/?: loss 1.250, " in single and "grad cos" not in single
