"""The supernet and standalone subnets.

Block specs live in ``elasticvit.space.specs`` (no torch needed), their static modules in
``elasticvit.nn.static``.
"""

from elasticvit.model.subnet import SubnetModel, load_subnet, save_subnet
from elasticvit.model.supernet import Supernet

__all__ = [
    "SubnetModel",
    "Supernet",
    "load_subnet",
    "save_subnet",
]
