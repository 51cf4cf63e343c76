"""Dataset preparation: sources, deterministic stratified splits, idempotence, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from elasticvit.config import DataConfig
from elasticvit.data import DatasetError, load_split, prepare_dataset, read_manifest
from tests.data_fixtures import shared_cifar10, write_npz  # noqa: F401

SPLIT_FILES = ["manifest.json", "test.npz", "train.npz", "val.npz"]


def _cfg(tmp_path: Path, **kw) -> DataConfig:
    return DataConfig(**{"output_dir": tmp_path / "out", "resolution": 8, **kw})


def _prepare(cfg: DataConfig):
    return prepare_dataset(cfg, progress=False)


def _labels(out: Path) -> dict[str, np.ndarray]:
    return {s: load_split(out, s)[1].numpy() for s in ("train", "val", "test")}


# -- sources -----------------------------------------------------------------------------------


def test_digits_offline_with_stratified_counts(tmp_path: Path) -> None:
    manifest = _prepare(_cfg(tmp_path, source="digits", val_fraction=0.2, test_fraction=0.1, resolution=16))
    assert manifest.num_classes == 10 and manifest.class_names == [str(i) for i in range(10)]
    total = {c: sum(manifest.counts[s][c] for s in ("train", "val", "test")) for c in manifest.class_names}
    assert sum(total.values()) == 1797
    for c in manifest.class_names:  # every class split 70/20/10, up to rounding
        assert abs(manifest.counts["val"][c] - 0.2 * total[c]) <= 1
        assert abs(manifest.counts["test"][c] - 0.1 * total[c]) <= 1
    images, labels = load_split(tmp_path / "out", "val")
    assert images.dtype == torch.uint8 and images.shape[1:] == (16, 16, 3) and labels.dtype == torch.int64
    assert np.array_equal(np.bincount(labels.numpy(), minlength=10), [manifest.counts["val"][c] for c in manifest.class_names])
    assert (images[..., 0] == images[..., 2]).all()  # grey digits as RGB


def test_manifest_records_what_was_written(tmp_path: Path) -> None:
    from elasticvit.utils.hashing import sha256_file

    manifest = _prepare(_cfg(tmp_path, source="digits"))
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == SPLIT_FILES
    assert manifest.sha256 == {f"{s}.npz": sha256_file(out / f"{s}.npz") for s in ("train", "val", "test")}
    assert read_manifest(out) == manifest
    assert json.loads((out / "manifest.json").read_text())["created_by"].startswith("elasticvit ")
    with np.load(out / "train.npz", allow_pickle=False) as data:
        assert data["images"].dtype == np.uint8 and data["labels"].dtype == np.int64
        assert list(data["class_names"]) == manifest.class_names


def test_splits_are_disjoint_deterministic_and_seeded(tmp_path: Path) -> None:
    src = write_npz(tmp_path / "src.npz", n_per_class=30)
    a = _prepare(_cfg(tmp_path, source="npz", path=src, seed=1, output_dir=tmp_path / "a"))
    b = _prepare(_cfg(tmp_path, source="npz", path=src, seed=1, output_dir=tmp_path / "b"))
    c = _prepare(_cfg(tmp_path, source="npz", path=src, seed=2, output_dir=tmp_path / "c"))
    assert a.sha256 == b.sha256 and a.version == b.version
    assert a.sha256["val.npz"] != c.sha256["val.npz"] and a.counts == c.counts
    # every source image lands in exactly one split (random pixels identify images)
    with np.load(src) as data:
        source_rows = sorted(img.tobytes() for img in data["images"])
    split_rows = sorted(img.numpy().tobytes() for s in ("train", "val", "test") for img in load_split(tmp_path / "a", s)[0])
    assert split_rows == source_rows


def test_max_per_class_caps_every_class(tmp_path: Path) -> None:
    manifest = _prepare(_cfg(tmp_path, source="digits", max_per_class=20, val_fraction=0.25, test_fraction=0.25))
    assert all(manifest.counts[s][c] == 5 for s in ("val", "test") for c in manifest.class_names)
    assert all(n == 10 for n in manifest.counts["train"].values())


def test_npz_single_file(tmp_path: Path) -> None:
    src = write_npz(tmp_path / "one.npz", n_per_class=10, classes=4)
    manifest = _prepare(_cfg(tmp_path, source="npz", path=src))
    assert manifest.class_names == ["0", "1", "2", "3"]  # no class_names array: the label values
    assert manifest.counts["val"] == manifest.counts["test"] == {str(c): 1 for c in range(4)}


def test_npz_lone_val_file_becomes_test(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_npz(src / "train.npz", n_per_class=20)
    write_npz(src / "val.npz", n_per_class=4, seed=1)
    manifest = _prepare(_cfg(tmp_path, source="npz", path=src))
    assert manifest.counts["test"] == {"0": 4, "1": 4, "2": 4}
    assert sum(manifest.counts["train"].values()) + sum(manifest.counts["val"].values()) == 60
    with np.load(src / "val.npz") as data:
        assert np.array_equal(load_split(tmp_path / "out", "test")[0].numpy(), data["images"])


def test_npz_val_and_test_files_are_used_as_given(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_npz(src / "train.npz", n_per_class=20)
    write_npz(src / "val.npz", n_per_class=3, seed=1)
    write_npz(src / "test.npz", n_per_class=5, seed=2)
    manifest = _prepare(_cfg(tmp_path, source="npz", path=src))
    totals = {s: sum(c.values()) for s, c in manifest.counts.items()}
    assert totals == {"train": 60, "val": 9, "test": 15}


def test_npz_held_out_class_names_must_match(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_npz(src / "train.npz", class_names=np.array(["a", "b", "c"]))
    write_npz(src / "test.npz", class_names=np.array(["a", "b", "x"]))
    with pytest.raises(DatasetError, match=r"test\.npz: 'class_names' .* differ from train's"):
        _prepare(_cfg(tmp_path, source="npz", path=src))
    assert not (tmp_path / "out").exists()


def test_imagefolder(tmp_path: Path) -> None:
    from PIL import Image

    colours = {"cat": (200, 10, 10), "dog": (10, 200, 10), "owl": (10, 10, 200)}
    root = tmp_path / "tree"
    for name, colour in colours.items():
        (root / name).mkdir(parents=True)
        for i in range(5):
            Image.new("RGB", (20, 14), color=colour).save(root / name / f"{i}.png")
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / ".thumbnails").mkdir()  # hidden folders are not classes
    manifest = _prepare(_cfg(tmp_path, source="imagefolder", path=root, val_fraction=0.2, test_fraction=0.2))
    assert manifest.class_names == ["cat", "dog", "owl"] and manifest.resolution == 8
    assert manifest.counts == {s: {c: n for c in colours} for s, n in (("train", 3), ("val", 1), ("test", 1))}
    images, labels = load_split(tmp_path / "out", "train")
    assert images.shape == (9, 8, 8, 3)
    for image, label in zip(images.numpy(), labels.numpy()):
        assert (image == colours[manifest.class_names[label]]).all()


# -- idempotence and atomicity -------------------------------------------------------------------


def test_rerun_rewrites_nothing(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, source="digits")
    first = _prepare(cfg)
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}
    assert _prepare(cfg) == first
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()} == stamps


def test_changed_config_or_source_rebuilds(tmp_path: Path) -> None:
    src = write_npz(tmp_path / "src.npz")
    first = _prepare(_cfg(tmp_path, source="npz", path=src))
    assert _prepare(_cfg(tmp_path, source="npz", path=src, resolution=16)).resolution == 16
    write_npz(src, seed=7)  # same path, new content
    rebuilt = _prepare(_cfg(tmp_path, source="npz", path=src))
    assert rebuilt.source_digest != first.source_digest and rebuilt.sha256 != first.sha256


def test_damaged_output_is_rebuilt(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, source="digits")
    first = _prepare(cfg)
    (tmp_path / "out" / "val.npz").write_bytes(b"garbage")
    assert _prepare(cfg) == first
    assert load_split(tmp_path / "out", "val")[0].shape[1:] == (8, 8, 3)


def test_other_files_in_output_dir_survive(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "README").write_text("mine")
    _prepare(_cfg(tmp_path, source="digits"))
    assert sorted(p.name for p in out.iterdir()) == sorted(["README", *SPLIT_FILES])


def test_failed_rebuild_keeps_previous_output(tmp_path: Path) -> None:
    first = _prepare(_cfg(tmp_path, source="npz", path=write_npz(tmp_path / "good.npz")))
    bad = write_npz(tmp_path / "bad.npz", labels=np.repeat(np.arange(3), 9))
    with pytest.raises(DatasetError):
        _prepare(_cfg(tmp_path, source="npz", path=bad))
    assert read_manifest(tmp_path / "out") == first
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == SPLIT_FILES


def test_failed_write_leaves_no_partial_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import elasticvit.data.prepare as prepare

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(prepare, "write_json", disk_full)  # fails after the three arrays are written
    with pytest.raises(OSError, match="No space left"):
        _prepare(_cfg(tmp_path, source="digits"))
    assert not (tmp_path / "out").exists()


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"labels": np.repeat(np.arange(3), 9)}, r"bad\.npz: 'labels' must be one per image \(30\)"),
        ({"images": np.zeros((30, 8, 8), np.uint8)}, r"bad\.npz: 'images' must be N x H x W x 3, got shape \(30, 8, 8\)"),
        ({"images": np.zeros((30, 3, 8, 8), np.uint8)}, r"'images' must be N x H x W x 3"),
        ({"images": np.zeros((30, 8, 8, 3), np.float32)}, "'images' must be uint8, got float32"),
        ({"labels": np.repeat(np.array([0, 2, 2]), 10)}, r"class\(es\) with no images: 1"),
        ({"labels": np.repeat(np.arange(3), 10), "class_names": np.array(["a", "b", "c", "d"])}, r"no images: d"),
        ({"labels": np.repeat(np.arange(3), 10) - 1}, r"labels must lie in \[0, "),
        ({"labels": np.linspace(0, 2, 30)}, "'labels' must be integers"),
    ],
)
def test_bad_arrays_fail_clearly_and_leave_nothing(tmp_path: Path, overrides: dict, message: str) -> None:
    src = write_npz(tmp_path / "bad.npz", **overrides)
    with pytest.raises(DatasetError, match=message):
        _prepare(_cfg(tmp_path, source="npz", path=src))
    assert [p.name for p in tmp_path.iterdir()] == ["bad.npz"]


def test_missing_labels_array(tmp_path: Path) -> None:
    src = tmp_path / "nolabels.npz"
    np.savez(src, images=np.zeros((4, 8, 8, 3), np.uint8))
    with pytest.raises(DatasetError, match=r"nolabels\.npz: missing array\(s\) labels"):
        _prepare(_cfg(tmp_path, source="npz", path=src))
    assert not (tmp_path / "out").exists()


def test_truncated_npz(tmp_path: Path) -> None:
    src = write_npz(tmp_path / "cut.npz")
    src.write_bytes(src.read_bytes()[:500])
    with pytest.raises(DatasetError, match=r"cut\.npz: not a readable \.npz"):
        _prepare(_cfg(tmp_path, source="npz", path=src))
    assert not (tmp_path / "out").exists()


def test_empty_class_folder(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "tree" / "full").mkdir(parents=True)
    (tmp_path / "tree" / "empty").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "tree" / "full" / "a.png")
    with pytest.raises(DatasetError, match=r"tree/empty: class folder has no images"):
        _prepare(_cfg(tmp_path, source="imagefolder", path=tmp_path / "tree"))
    assert not (tmp_path / "out").exists()


def test_unreadable_image(tmp_path: Path) -> None:
    (tmp_path / "tree" / "a").mkdir(parents=True)
    (tmp_path / "tree" / "a" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"broken\.png: unreadable image"):
        _prepare(_cfg(tmp_path, source="imagefolder", path=tmp_path / "tree"))
    assert not (tmp_path / "out").exists()


def test_too_few_images_for_the_fractions(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"digits test split: class\(es\) with no images.*raise max_per_class"):
        _prepare(_cfg(tmp_path, source="digits", max_per_class=2))
    assert not (tmp_path / "out").exists()


# -- real data -----------------------------------------------------------------------------------


def test_real_cifar10_subset(tmp_path: Path, shared_cifar10: Path) -> None:
    manifest = _prepare(DataConfig(source="npz", path=shared_cifar10, max_per_class=50, output_dir=tmp_path / "out"))
    assert manifest.class_names[:2] == ["airplane", "automobile"] and manifest.resolution == 32
    assert manifest.counts["test"] == {c: 50 for c in manifest.class_names}  # from val.npz (official test set)
    assert all(manifest.counts["val"][c] == 5 and manifest.counts["train"][c] == 45 for c in manifest.class_names)
