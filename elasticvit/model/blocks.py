"""Block specs of an arch or a whole space, and the static block of a spec.

The specs and their analytic MACs/params live in ``elasticvit.space.specs`` (no torch needed); the
modules in ``elasticvit.nn.static``. This module is where the rest of the project finds both.
"""

from elasticvit.nn.static import build_block
from elasticvit.space.specs import BlockKind, BlockSpec, arch_blocks, space_blocks

__all__ = ["BlockKind", "BlockSpec", "arch_blocks", "build_block", "space_blocks"]
