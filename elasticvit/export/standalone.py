"""A chosen subnet as a standalone model: the supernet's weights copied out, BN statistics baked in."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from elasticvit.data import resize_batch
from elasticvit.model import SubnetModel, Supernet
from elasticvit.space import Arch
from elasticvit.training.bn_calibration import recalibrate_bn


def standalone_subnet(supernet: Supernet, arch: Arch, calib_batches: Sequence[Tensor]) -> SubnetModel:
    """Extract ``arch`` and recalibrate its BN running statistics on ``calib_batches`` (at the arch's
    resolution), in eval mode.

    With the same calibration batches the search used, the model reproduces the accuracy the search
    measured with the shared weights.
    """
    model = supernet.extract(arch)
    recalibrate_bn(model, (resize_batch(x, arch.resolution) for x in calib_batches))
    return model.eval()
