import torch

from elasticvit.data import InMemoryLoader, resize_batch


def _data(n: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 255, (n, 8, 8, 3), generator=g, dtype=torch.uint8), torch.arange(n) % 5


def test_same_seed_same_batches_and_shapes() -> None:
    images, labels = _data()
    a = list(InMemoryLoader(images, labels, 16, augment=True, generator=torch.Generator().manual_seed(3)))
    b = list(InMemoryLoader(images, labels, 16, augment=True, generator=torch.Generator().manual_seed(3)))
    c = list(InMemoryLoader(images, labels, 16, augment=True, generator=torch.Generator().manual_seed(4)))
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b))
    assert not torch.equal(a[0][0], c[0][0])
    assert a[0][0].shape == (16, 3, 8, 8) and a[0][0].dtype == torch.float32
    assert [len(y) for _, y in a] == [16, 16, 16, 2]


def test_drop_last_and_no_shuffle_order() -> None:
    images, labels = _data()
    loader = InMemoryLoader(images, labels, 16, shuffle=False, drop_last=True)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert torch.equal(torch.cat([y for _, y in batches]), labels[:48])


def test_augmentation_is_a_shifted_or_flipped_copy() -> None:
    images, labels = _data(1)
    plain = InMemoryLoader(images, labels, 1, shuffle=False)
    aug = InMemoryLoader(images, labels, 1, shuffle=False, augment=True, padding=0)
    x, _ = next(iter(plain))
    y, _ = next(iter(aug))
    assert torch.allclose(y, x) or torch.allclose(y, x.flip(-1))


def test_resize_batch() -> None:
    x = torch.randn(2, 3, 32, 32)
    assert resize_batch(x, 32) is x
    assert resize_batch(x, 24).shape == (2, 3, 24, 24)
