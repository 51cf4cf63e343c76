"""Dataset preparation: sources, deterministic stratified splits, idempotence, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from elasticvit.config import DataConfig
from elasticvit.data import DatasetError, load_split, prepare_dataset, read_manifest


def _npz(path: Path, n_per_class: int = 10, classes: int = 3, size: int = 8, **overrides) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "images": rng.integers(0, 255, (n_per_class * classes, size, size, 3), dtype=np.uint8),
        "labels": np.repeat(np.arange(classes), n_per_class),
    }
    arrays.update(overrides)
    np.savez(path, **arrays)
    return path


def _cfg(tmp_path: Path, **kw) -> DataConfig:
    return DataConfig(output_dir=tmp_path / "out", resolution=8, **kw)


def test_digits_offline_with_stratified_counts(tmp_path: Path) -> None:
    manifest = prepare_dataset(_cfg(tmp_path, source="digits", val_fraction=0.2, test_fraction=0.1))
    assert manifest.num_classes == 10
    total = {c: sum(manifest.counts[s][c] for s in ("train", "val", "test")) for c in manifest.class_names}
    for c in manifest.class_names:  # every class split roughly 70/20/10
        assert abs(manifest.counts["val"][c] - 0.2 * total[c]) <= 1
        assert abs(manifest.counts["test"][c] - 0.1 * total[c]) <= 1
    images, labels = load_split(tmp_path / "out", "val")
    assert images.shape[1:] == (8, 8, 3) and len(labels) == sum(manifest.counts["val"].values())


def test_splits_are_deterministic_by_seed(tmp_path: Path) -> None:
    a = prepare_dataset(DataConfig(source="digits", resolution=8, seed=1, output_dir=tmp_path / "a"))
    b = prepare_dataset(DataConfig(source="digits", resolution=8, seed=1, output_dir=tmp_path / "b"))
    c = prepare_dataset(DataConfig(source="digits", resolution=8, seed=2, output_dir=tmp_path / "c"))
    assert a.sha256 == b.sha256 and a.version == b.version
    assert a.sha256["val.npz"] != c.sha256["val.npz"]


def test_rerun_is_a_no_op(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, source="digits")
    first = prepare_dataset(cfg)
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}
    assert prepare_dataset(cfg) == first
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()} == stamps


def test_npz_directory_uses_held_out_file_as_test(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _npz(src / "train.npz", n_per_class=20)
    _npz(src / "val.npz", n_per_class=4)
    manifest = prepare_dataset(_cfg(tmp_path, source="npz", path=src))
    assert sum(manifest.counts["test"].values()) == 12
    assert sum(manifest.counts["train"].values()) + sum(manifest.counts["val"].values()) == 60


def test_imagefolder(tmp_path: Path) -> None:
    from PIL import Image

    root = tmp_path / "tree"
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (20, 14), color=(i * 20, 10, 200)).save(root / name / f"{i}.png")
    manifest = prepare_dataset(_cfg(tmp_path, source="imagefolder", path=root, val_fraction=0.2, test_fraction=0.2))
    assert manifest.class_names == ["cat", "dog"] and manifest.resolution == 8


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"labels": np.repeat(np.arange(3), 9)}, "labels' must be one per image"),
        ({"images": np.zeros((30, 8, 8), np.uint8)}, r"must be N x H x W x 3"),
        ({"images": np.zeros((30, 8, 8, 3), np.float32)}, "must be uint8"),
        ({"labels": np.repeat(np.array([0, 2, 2]), 10)}, "class\\(es\\) with no images: 1"),
    ],
)
def test_bad_arrays_fail_clearly_and_leave_nothing(tmp_path: Path, overrides: dict, message: str) -> None:
    src = _npz(tmp_path / "bad.npz", **overrides)
    with pytest.raises(DatasetError, match=message):
        prepare_dataset(_cfg(tmp_path, source="npz", path=src))
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.npz"]


def test_missing_labels_array(tmp_path: Path) -> None:
    src = tmp_path / "nolabels.npz"
    np.savez(src, images=np.zeros((4, 8, 8, 3), np.uint8))
    with pytest.raises(DatasetError, match=r"missing array\(s\) labels"):
        prepare_dataset(_cfg(tmp_path, source="npz", path=src))


def test_empty_class_folder(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "tree" / "full").mkdir(parents=True)
    (tmp_path / "tree" / "empty").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "tree" / "full" / "a.png")
    with pytest.raises(DatasetError, match="empty: class folder has no images"):
        prepare_dataset(_cfg(tmp_path, source="imagefolder", path=tmp_path / "tree"))


def test_failed_rebuild_keeps_previous_output(tmp_path: Path) -> None:
    good = _npz(tmp_path / "good.npz")
    first = prepare_dataset(_cfg(tmp_path, source="npz", path=good))
    bad = _npz(tmp_path / "bad.npz", labels=np.repeat(np.arange(3), 9))
    with pytest.raises(DatasetError):
        prepare_dataset(_cfg(tmp_path, source="npz", path=bad))
    assert read_manifest(tmp_path / "out") == first
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["manifest.json", "test.npz", "train.npz", "val.npz"]


def test_real_cifar10_split(tmp_path: Path, shared_cifar: Path) -> None:
    manifest = prepare_dataset(
        DataConfig(source="npz", path=shared_cifar, resolution=32, max_per_class=50, output_dir=tmp_path / "out")
    )
    assert manifest.class_names[:2] == ["airplane", "automobile"]
    assert sum(manifest.counts["test"].values()) == 500
