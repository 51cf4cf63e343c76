"""A standalone subnet (the static blocks of one arch, in order) and its weights-only file."""

from __future__ import annotations

import os
from typing import Any

from torch import Tensor, nn

from elasticvit.errors import DamagedFileError
from elasticvit.nn.static import build_block
from elasticvit.space import Arch, SearchSpace
from elasticvit.space.specs import arch_blocks
from elasticvit.utils.atomic import torch_save
from elasticvit.utils.reading import read_torch

SUBNET_FORMAT = "elasticvit-subnet/1"


class SubnetModel(nn.Module):
    """Plain PyTorch: ``features`` (every block but the head, in order) then ``head``."""

    def __init__(self, space: SearchSpace, arch: Arch, num_classes: int, blocks: list[nn.Module] | None = None) -> None:
        super().__init__()
        self.space, self.arch, self.num_classes = space, arch, num_classes
        if blocks is None:
            blocks = [build_block(spec) for spec in arch_blocks(space, arch, num_classes)]
        self.features = nn.Sequential(*blocks[:-1])
        self.head = blocks[-1]

    def no_weight_decay(self) -> set[str]:
        """The relative-position tables (as for the supernet; timm already skips 1-D parameters)."""
        return {name for name, _ in self.named_parameters() if name.endswith("rel_pos.table")}

    def forward_features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, x: Tensor) -> Tensor:
        return self.head(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


def save_subnet(path: str | os.PathLike[str], model: SubnetModel, extra: dict[str, Any] | None = None) -> None:
    """Write arch, space, classes and weights; loadable with ``torch.load(weights_only=True)``.

    ``extra`` must hold plain containers, strings, numbers and tensors only.
    """
    torch_save(path, {
        "format": SUBNET_FORMAT,
        "arch": model.arch.model_dump_json(),
        "space": model.space.model_dump_json(),
        "num_classes": model.num_classes,
        "state_dict": model.state_dict(),
        "extra": extra or {},
    })


def load_subnet(path: str | os.PathLike[str]) -> SubnetModel:
    """The saved subnet, rebuilt from its blocks, in eval mode; its ``extra`` dict as ``.extra``."""
    payload = read_torch(path, "subnet file")
    if not isinstance(payload, dict) or payload.get("format") != SUBNET_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise DamagedFileError(f"{path}: not an elasticvit subnet file (format {found!r})")
    space = SearchSpace.model_validate_json(payload["space"])
    model = SubnetModel(space, Arch.model_validate_json(payload["arch"]), payload["num_classes"])
    model.load_state_dict(payload["state_dict"])
    model.extra = payload["extra"]
    return model.eval()
