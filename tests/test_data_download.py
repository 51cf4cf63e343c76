"""The CIFAR-10 source end to end against a local HTTP server serving archives the tests build."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from elasticvit.config import DataConfig
from elasticvit.data import DatasetError, load_split, prepare_dataset
from tests.data_fixtures import BASIC_AUTH, CIFAR_NAMES, PER_BATCH, OpensAFile, build_cifar_archive, cifar_batch, free_port, http_root, md5  # noqa: F401


def _cfg(tmp_path: Path, url: str, md5: str, **kw) -> DataConfig:
    return DataConfig(source="cifar10", url=url, md5=md5, path=tmp_path / "cache", output_dir=tmp_path / "out", **kw)


def _nothing_left(tmp_path: Path) -> bool:
    """No output folder, and no archive (or temporary download) in the cache."""
    cache = tmp_path / "cache"
    return not (tmp_path / "out").exists() and (not cache.exists() or list(cache.iterdir()) == [])


def test_download_verify_and_prepare(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    digest = build_cifar_archive(root / "cifar-10-python.tar.gz")
    cfg = _cfg(tmp_path, f"{base}/cifar-10-python.tar.gz", digest, resolution=32)
    manifest = prepare_dataset(cfg, progress=False)
    assert manifest.class_names == CIFAR_NAMES
    assert manifest.counts["test"] == {n: 2 for n in CIFAR_NAMES}  # the official test batch, whole
    assert sum(sum(manifest.counts[s].values()) for s in ("train", "val")) == 5 * PER_BATCH
    assert (tmp_path / "cache" / "cifar-10-python.tar.gz").exists()
    # planar rows decoded to HWC: the test split is the test batch in its original order
    images, labels = load_split(tmp_path / "out", "test")
    official = cifar_batch(9)
    assert np.array_equal(images.numpy(), official[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    assert labels.tolist() == official[b"labels"]


def test_credentials_for_a_download_come_from_the_environment(
    tmp_path: Path, http_root: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base = http_root
    digest = build_cifar_archive(root / "c.tar.gz")
    cfg = _cfg(tmp_path, f"{base}/private/c.tar.gz", digest, resolution=8)
    with pytest.raises(DatasetError, match=r"HTTP Error 401.*ELASTICVIT_DOWNLOAD_USERNAME"):
        prepare_dataset(cfg, progress=False)
    assert _nothing_left(tmp_path)
    monkeypatch.setenv("ELASTICVIT_DOWNLOAD_USERNAME", BASIC_AUTH[0])
    monkeypatch.setenv("ELASTICVIT_DOWNLOAD_PASSWORD", BASIC_AUTH[1])
    assert prepare_dataset(cfg, progress=False).class_names == CIFAR_NAMES


def test_verified_archive_in_cache_is_not_fetched_again(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    digest = build_cifar_archive(root / "c.tar.gz")
    prepare_dataset(_cfg(tmp_path, f"{base}/c.tar.gz", digest, resolution=8), progress=False)
    (root / "c.tar.gz").unlink()
    manifest = prepare_dataset(_cfg(tmp_path, f"{base}/c.tar.gz", digest, resolution=16), progress=False)
    assert manifest.resolution == 16


def test_default_cache_is_beside_the_output(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    digest = build_cifar_archive(root / "c.tar.gz")
    cfg = DataConfig(source="cifar10", url=f"{base}/c.tar.gz", md5=digest, output_dir=tmp_path / "data" / "out")
    prepare_dataset(cfg, progress=False)
    assert (tmp_path / "data" / "downloads" / "c.tar.gz").exists()
    assert sorted(p.name for p in cfg.output_dir.iterdir()) == ["manifest.json", "test.npz", "train.npz", "val.npz"]


def test_wrong_checksum_fails_and_leaves_nothing(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    build_cifar_archive(root / "a.tar.gz")
    with pytest.raises(DatasetError, match=r"a\.tar\.gz: MD5 mismatch, expected 0{32}"):
        prepare_dataset(_cfg(tmp_path, f"{base}/a.tar.gz", "0" * 32), progress=False)
    assert _nothing_left(tmp_path)


def test_truncated_archive_fails_its_checksum(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    digest = build_cifar_archive(root / "full.tar.gz")
    (root / "cut.tar.gz").write_bytes((root / "full.tar.gz").read_bytes()[:200])
    with pytest.raises(DatasetError, match="MD5 mismatch"):
        prepare_dataset(_cfg(tmp_path, f"{base}/cut.tar.gz", digest), progress=False)
    assert _nothing_left(tmp_path)


def test_transfer_cut_off_midway(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    digest = build_cifar_archive(root / "c.tar.gz")
    with pytest.raises(DatasetError, match=r"cut/c\.tar\.gz: download truncated at \d+ of \d+ bytes"):
        prepare_dataset(_cfg(tmp_path, f"{base}/cut/c.tar.gz", digest), progress=False)
    assert _nothing_left(tmp_path)


def test_truncated_archive_with_matching_checksum_is_unreadable(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    # e.g. a mirror that publishes the MD5 of its own broken copy
    root, base = http_root
    build_cifar_archive(root / "full.tar.gz")
    cut = root / "cut.tar.gz"
    cut.write_bytes((root / "full.tar.gz").read_bytes()[:-300])
    with pytest.raises(DatasetError, match="unreadable archive"):
        prepare_dataset(_cfg(tmp_path, f"{base}/cut.tar.gz", md5(cut)), progress=False)
    assert not (tmp_path / "out").exists()


def test_missing_label_field(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    digest = build_cifar_archive(root / "nolabel.tar.gz", drop_label_in="data_batch_3")
    with pytest.raises(DatasetError, match="data_batch_3 has no 'labels'"):
        prepare_dataset(_cfg(tmp_path, f"{base}/nolabel.tar.gz", digest), progress=False)
    assert not (tmp_path / "out").exists()


def test_protocol_2_pickles_as_the_official_archive_holds(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    digest = build_cifar_archive(root / "p2.tar.gz", protocol=2)
    prepare_dataset(_cfg(tmp_path, f"{base}/p2.tar.gz", digest), progress=False)
    images, labels = load_split(tmp_path / "out", "test")
    assert labels.tolist() == cifar_batch(9)[b"labels"]


def test_a_pickle_that_runs_code_is_refused(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    # the MD5 comes from the same config as the URL: a matching checksum proves nothing
    root, base = http_root
    marker = tmp_path / "ran"
    digest = build_cifar_archive(root / "evil.tar.gz", payload=OpensAFile(marker))
    with pytest.raises(DatasetError, match="evil.tar.gz: refused global 'io.open'"):
        prepare_dataset(_cfg(tmp_path, f"{base}/evil.tar.gz", digest), progress=False)
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_unreachable_server(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="download failed"):
        prepare_dataset(_cfg(tmp_path, f"http://127.0.0.1:{free_port()}/x.tar.gz", "0" * 32), progress=False)
    assert _nothing_left(tmp_path)
