"""The in-memory loader (determinism, resumable epochs, batched augmentation) and resize_batch."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from elasticvit.data import InMemoryLoader, resize_batch
from elasticvit.data.loader import CIFAR_MEAN, CIFAR_STD


def _data(n: int = 50, size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, size, size, 3), generator=g, dtype=torch.uint8), torch.arange(n) % 5


def _loader(seed: int = 3, **kw) -> InMemoryLoader:
    images, labels = _data()
    return InMemoryLoader(images, labels, **{"batch_size": 16, "augment": True, "generator": torch.Generator().manual_seed(seed), **kw})


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b))


def test_same_generator_same_batches_and_shapes() -> None:
    a, b, c = list(_loader(3)), list(_loader(3)), list(_loader(4))
    assert _same(a, b) and not _same(a, c)
    assert a[0][0].shape == (16, 3, 8, 8) and a[0][0].dtype == torch.float32 and a[0][1].dtype == torch.int64
    # laid out channels-last (the faster convolution path), and resizing keeps that layout
    assert a[0][0].is_contiguous(memory_format=torch.channels_last) and not a[0][0].is_contiguous()
    assert resize_batch(a[0][0], 6).is_contiguous(memory_format=torch.channels_last)
    assert [len(y) for _, y in a] == [16, 16, 16, 2]
    assert sorted(torch.cat([y for _, y in a]).tolist()) == sorted(_data()[1].tolist())  # a permutation


def test_successive_passes_are_new_epochs_and_set_epoch_replays_them() -> None:
    loader = _loader()
    epochs = [list(loader) for _ in range(3)]
    assert not _same(epochs[0], epochs[1])
    fresh = _loader()
    fresh.set_epoch(2)
    assert _same(list(fresh), epochs[2])
    assert _same(list(fresh), list(loader))  # both now at epoch 3


def _epoch(e: int) -> list:
    loader = _loader()
    loader.set_epoch(e)
    return list(loader)


def test_resume_mid_epoch_yields_the_rest_of_that_epoch() -> None:
    full = _epoch(1)
    loader = _loader()
    loader.set_epoch(1)
    taken = list(itertools.islice(loader, 2))  # interrupted after two batches
    state = loader.state_dict()
    assert state == {"epoch": 1, "batch": 2} and _same(taken, full[:2])
    resumed = _loader()
    resumed.load_state_dict(state)
    assert _same(list(resumed), full[2:])
    assert _same(list(resumed), _epoch(2))  # then it carries on with the next epoch


def test_state_after_a_whole_epoch_resumes_at_the_next() -> None:
    loader = _loader()
    list(loader)
    resumed = _loader()
    resumed.load_state_dict(loader.state_dict())
    assert _same(list(resumed), _epoch(1))


def test_drop_last_and_no_shuffle_order() -> None:
    images, labels = _data()
    loader = InMemoryLoader(images, labels, 16, shuffle=False, drop_last=True)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert torch.equal(torch.cat([y for _, y in batches]), labels[:48])


def test_nchw_and_nhwc_input_agree() -> None:
    images, labels = _data()
    nhwc = list(InMemoryLoader(images, labels, 16, augment=True, generator=torch.Generator().manual_seed(1)))
    nchw = list(InMemoryLoader(images.permute(0, 3, 1, 2), labels, 16, augment=True, generator=torch.Generator().manual_seed(1)))
    assert _same(nhwc, nchw)


def test_normalisation() -> None:
    images = torch.full((2, 4, 4, 3), 255, dtype=torch.uint8)
    x, _ = next(iter(InMemoryLoader(images, torch.zeros(2), 2, shuffle=False)))
    expected = (1.0 - torch.tensor(CIFAR_MEAN)) / torch.tensor(CIFAR_STD)
    assert torch.allclose(x[0, :, 0, 0], expected, atol=1e-5)


def test_augmentation_is_a_padded_crop_possibly_flipped() -> None:
    images, labels = _data(64)
    raw = {"mean": (0.0, 0.0, 0.0), "std": (1 / 255, 1 / 255, 1 / 255)}  # yields the pixel values
    aug, _ = next(iter(InMemoryLoader(images, labels, 64, shuffle=False, augment=True, padding=2, **raw)))
    padded = torch.nn.functional.pad(images.permute(0, 3, 1, 2).float(), (2, 2, 2, 2))
    offsets, flips = set(), 0
    for i in range(len(images)):
        crops = [
            (dy, dx, flip)
            for dy in range(5)
            for dx in range(5)
            for flip in (False, True)
            if torch.equal(_crop(padded[i], dy, dx, flip), aug[i])
        ]
        assert crops, f"image {i} is no padded crop of its source"
        offsets.add(crops[0][:2])
        flips += crops[0][2]
    assert len(offsets) > 10 and 10 < flips < 54  # offsets and flips vary across the batch


def test_flip_off_keeps_the_same_crops_unflipped() -> None:
    images, labels = _data(64)
    raw = {"mean": (0.0, 0.0, 0.0), "std": (1 / 255, 1 / 255, 1 / 255)}
    gen = {"generator": torch.Generator().manual_seed(3), "shuffle": False, "augment": True, "padding": 2, **raw}
    flipped, _ = next(iter(InMemoryLoader(images, labels, 64, **gen)))
    gen["generator"] = torch.Generator().manual_seed(3)
    plain, _ = next(iter(InMemoryLoader(images, labels, 64, flip=False, **gen)))
    same = [torch.equal(a, b) for a, b in zip(flipped, plain, strict=True)]
    # the images the flipping loader left alone are identical; the rest are their mirror images
    assert 10 < sum(same) < 54
    for a, b, kept in zip(flipped, plain, same, strict=True):
        assert kept or torch.equal(a.flip(-1), b)


def test_default_padding_is_an_eighth_of_the_side() -> None:
    assert InMemoryLoader(*_data(), 8).padding == 1  # 8 pixels
    big = torch.zeros(4, 32, 32, 3, dtype=torch.uint8)
    assert InMemoryLoader(big, torch.zeros(4), 2).padding == 4  # CIFAR's usual 4 at 32
    small = torch.zeros(4, 16, 16, 3, dtype=torch.uint8)
    assert InMemoryLoader(small, torch.zeros(4), 2).padding == 2


def _crop(image: torch.Tensor, dy: int, dx: int, flip: bool) -> torch.Tensor:
    crop = image[:, dy : dy + 8, dx : dx + 8]
    return crop.flip(-1) if flip else crop


def test_rejects_bad_input() -> None:
    images, labels = _data()
    with pytest.raises(ValueError, match="uint8"):
        InMemoryLoader(images.float(), labels, 8)
    with pytest.raises(ValueError, match="labels of shape"):
        InMemoryLoader(images, labels[:-1], 8)


def test_accepts_numpy_arrays() -> None:
    images, labels = _data()
    a = list(InMemoryLoader(images.numpy(), labels.numpy(), 16, shuffle=False))
    b = list(InMemoryLoader(images, labels, 16, shuffle=False))
    assert _same(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    cpu = list(_loader())
    gpu = list(_loader(device="cuda"))
    assert all(x.device.type == "cuda" for x, _ in gpu)
    assert all(torch.allclose(a.cpu(), b, atol=1e-6) and torch.equal(ya.cpu(), yb) for (a, ya), (b, yb) in zip(gpu, cpu))


def test_resize_batch() -> None:
    x = torch.randn(2, 3, 32, 32)
    assert resize_batch(x, 32) is x
    y = resize_batch(x, 24)
    assert y.shape == (2, 3, 24, 24)
    const = torch.full((1, 3, 16, 16), 0.5)
    assert torch.allclose(resize_batch(const, 8), torch.full((1, 3, 8, 8), 0.5))
    assert np.isclose(float(resize_batch(x, 64).mean()), float(x.mean()), atol=0.05)
