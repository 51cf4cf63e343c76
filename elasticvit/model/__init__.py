"""The supernet, its block specs, and standalone subnets."""

from elasticvit.model.blocks import BlockSpec, arch_blocks, build_block, space_blocks
from elasticvit.model.subnet import SubnetModel, load_subnet, save_subnet
from elasticvit.model.supernet import Supernet

__all__ = [
    "BlockSpec",
    "SubnetModel",
    "Supernet",
    "arch_blocks",
    "build_block",
    "load_subnet",
    "save_subnet",
    "space_blocks",
]
