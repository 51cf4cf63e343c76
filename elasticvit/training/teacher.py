"""An optional external teacher for the students, instead of the in-place one."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from elasticvit.data import resize_batch
from elasticvit.model import load_subnet
from elasticvit.model.subnet import SUBNET_FORMAT
from elasticvit.training.checkpoint import load_supernet
from elasticvit.utils.reading import read_torch


def load_teacher(spec: str, num_classes: int, device: torch.device) -> nn.Module:
    """A frozen teacher in eval mode, mapping a batch at data resolution to logits.

    ``spec`` is a path to a subnet file (``save_subnet``), a trained ``supernet.pt`` (its largest
    subnet teaches), or a timm model name created with its pretrained weights, whose classifier
    must already fit ``num_classes``.
    """
    if Path(spec).exists():
        teacher = _from_file(Path(spec), device)
        classes = teacher.num_classes
        if classes != num_classes:
            raise ValueError(f"teacher {spec} has {classes} classes, the data {num_classes}")
    else:
        import timm

        if not timm.is_model(spec):
            raise ValueError(f"training.teacher {spec!r} is neither an existing file nor a timm model name")
        teacher = timm.create_model(spec, pretrained=True, num_classes=num_classes)
    teacher = teacher.to(device).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def _from_file(path: Path, device: torch.device) -> nn.Module:
    payload = read_torch(path, "teacher file")
    if isinstance(payload, dict) and payload.get("format") == SUBNET_FORMAT:
        subnet = load_subnet(path)
        return _AtResolution(subnet, subnet.arch.resolution, subnet.num_classes)
    supernet, meta = load_supernet(path, device)
    largest = meta.space.largest()
    supernet.set_active(largest)
    return _AtResolution(supernet, largest.resolution, meta.num_classes)


class _AtResolution(nn.Module):
    """Resizes the batch to the resolution the wrapped model was trained at."""

    def __init__(self, model: nn.Module, resolution: int, num_classes: int) -> None:
        super().__init__()
        self.model, self.resolution, self.num_classes = model, resolution, num_classes

    def forward(self, x: Tensor) -> Tensor:
        return self.model(resize_batch(x, self.resolution))
