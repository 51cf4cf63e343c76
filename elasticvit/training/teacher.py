"""An optional external teacher for the students, instead of the in-place one."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from elasticvit.data import resize_batch


def load_teacher(spec: str, num_classes: int, device: torch.device) -> nn.Module:
    """A frozen teacher in eval mode, mapping a batch at data resolution to logits.

    ``spec`` is a path to a trained ``supernet.pt`` (its largest subnet teaches) or a timm model
    name, created with its pretrained weights; its classifier must already fit ``num_classes``.
    """
    if Path(spec).exists():
        from elasticvit.training.checkpoint import load_supernet

        supernet, meta = load_supernet(spec, device)
        if meta.num_classes != num_classes:
            raise ValueError(f"teacher {spec} has {meta.num_classes} classes, the data {num_classes}")
        largest = meta.space.largest()
        supernet.set_active(largest)
        teacher: nn.Module = _AtResolution(supernet, largest.resolution)
    else:
        import timm

        if not timm.is_model(spec):
            raise ValueError(f"training.teacher {spec!r} is neither an existing file nor a timm model name")
        teacher = timm.create_model(spec, pretrained=True, num_classes=num_classes)
    teacher = teacher.to(device).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


class _AtResolution(nn.Module):
    def __init__(self, model: nn.Module, resolution: int) -> None:
        super().__init__()
        self.model = model
        self.resolution = resolution

    def forward(self, x: Tensor) -> Tensor:
        return self.model(resize_batch(x, self.resolution))
