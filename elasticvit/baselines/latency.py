"""End-to-end latency of a whole model on a device, with the same backend and statistics as subnets."""

from __future__ import annotations

import copy

from torch import nn

from elasticvit.config.experiment import LatencyConfig
from elasticvit.latency import DeviceSpec, Measurement, get_backend
from elasticvit.latency.timing import measure_runner


def measure_model(model: nn.Module, device: DeviceSpec, cfg: LatencyConfig, resolution: int) -> Measurement:
    """Time ``model`` on ``device`` at its batch size on RGB ``resolution`` x ``resolution`` inputs.

    A backend may move or convert the module it prepares, so it gets a copy: the caller's model
    stays where and what it was.
    """
    backend = get_backend(device)
    with backend.session():
        runner = backend.prepare(copy.deepcopy(model).cpu(), (device.batch_size, 3, resolution, resolution))
        return measure_runner(runner, cfg, device)
