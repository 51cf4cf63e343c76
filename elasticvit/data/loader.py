"""A fast in-memory loader: the whole uint8 dataset stays in one tensor, augmentation is batched.

Per-image PIL transforms would dominate CPU training time at 32x32; here a batch is one gather,
one padded crop by advanced indexing, one flip and one normalisation.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


class InMemoryLoader:
    """Yields ``(images, labels)``: float NCHW normalised images and int64 labels.

    Order and augmentation draw from ``generator`` only, so a loader built with the same seed
    yields the same batches (a resumed training rebuilds its epoch's loader from the seed).
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        batch_size: int,
        shuffle: bool = True,
        augment: bool = False,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
        padding: int = 4,
        mean: tuple[float, float, float] = CIFAR_MEAN,
        std: tuple[float, float, float] = CIFAR_STD,
    ) -> None:
        images = torch.as_tensor(images)
        if images.ndim != 4:
            raise ValueError(f"images must be N x H x W x 3 or N x 3 x H x W, got {tuple(images.shape)}")
        # Keep NCHW uint8 in memory: 4x smaller than float, converted per batch.
        self.images = images.permute(0, 3, 1, 2).contiguous() if images.shape[-1] == 3 else images.contiguous()
        self.labels = torch.as_tensor(labels).long()
        if len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment
        self.drop_last = drop_last
        self.generator = generator or torch.Generator().manual_seed(0)
        self.device = torch.device(device)
        self.padding = padding
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            x = self.images[idx]
            if self.augment:
                x = self._augment(x)
            x = (x.float().div_(255.0) - self.mean) / self.std
            yield x.to(self.device, non_blocking=True), self.labels[idx].to(self.device, non_blocking=True)

    def _augment(self, x: Tensor) -> Tensor:
        """Random crop from the zero-padded image, then a random horizontal flip, per image."""
        n, _, h, w = x.shape
        p = self.padding
        padded = F.pad(x, (p, p, p, p))
        dy = torch.randint(0, 2 * p + 1, (n,), generator=self.generator)
        dx = torch.randint(0, 2 * p + 1, (n,), generator=self.generator)
        rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None]  # N, 1, H, 1
        cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :]  # N, 1, 1, W
        batch = torch.arange(n)[:, None, None, None]
        chans = torch.arange(x.shape[1])[None, :, None, None]
        cropped = padded[batch, chans, rows, cols]
        flip = torch.rand(n, generator=self.generator) < 0.5
        cropped[flip] = cropped[flip].flip(-1)
        return cropped


def resize_batch(x: Tensor, resolution: int) -> Tensor:
    """Feed a subnet at its own resolution (bilinear); a no-op when the size already matches."""
    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    return F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=False)
