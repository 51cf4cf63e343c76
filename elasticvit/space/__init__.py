"""Search spaces and archs as typed, immutable data; analytic complexity; FLOPs-level pools.

Importing this package does not import torch.
"""

from elasticvit.space.arch import Arch, MBConvLayer, StageArch, TransformerLayer
from elasticvit.space.complexity import arch_macs, arch_params, space_size
from elasticvit.space.space import (
    DownsampleSpace,
    FirstConvSpace,
    HeadSpace,
    SearchSpace,
    SpaceError,
    StageSpace,
    StemSpace,
    load_space,
)

__all__ = [
    "Arch",
    "DownsampleSpace",
    "FirstConvSpace",
    "HeadSpace",
    "MBConvLayer",
    "SearchSpace",
    "SpaceError",
    "StageArch",
    "StageSpace",
    "StemSpace",
    "TransformerLayer",
    "arch_macs",
    "arch_params",
    "load_space",
    "space_size",
]
