"""The CIFAR-10 download path against a local HTTP server serving an archive the test builds."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import pickle
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from elasticvit.config import DataConfig
from elasticvit.data import DatasetError, prepare_dataset

NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


def _batch(n: int, seed: int, drop: str | None = None) -> bytes:
    rng = np.random.default_rng(seed)
    batch = {b"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8), b"labels": [i % 10 for i in range(n)]}
    if drop:
        del batch[drop.encode()]
    return pickle.dumps(batch)


def build_archive(path: Path, drop_label_in: str | None = None) -> str:
    """A tar.gz in the official layout with few images; returns its MD5."""
    with tarfile.open(path, "w:gz") as tar:
        members = {"batches.meta": pickle.dumps({b"label_names": NAMES})}
        for i in range(1, 6):
            name = f"data_batch_{i}"
            members[name] = _batch(20, i, "labels" if name == drop_label_in else None)
        members["test_batch"] = _batch(20, 9)
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _cfg(tmp_path: Path, url: str, md5: str) -> DataConfig:
    return DataConfig(
        source="cifar10", url=url, md5=md5, path=tmp_path / "cache", resolution=16, output_dir=tmp_path / "out"
    )


def test_download_verify_prepare(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    md5 = build_archive(root / "cifar-10-python.tar.gz")
    manifest = prepare_dataset(_cfg(tmp_path, f"{base}/cifar-10-python.tar.gz", md5))
    assert manifest.class_names[0] == "airplane"
    assert sum(manifest.counts["test"].values()) == 20  # the official test batch stays the test split
    assert sum(sum(c.values()) for s, c in manifest.counts.items() if s != "test") == 100
    (root / "cifar-10-python.tar.gz").unlink()  # a verified cached archive is reused, not fetched
    prepare_dataset(_cfg(tmp_path, f"{base}/cifar-10-python.tar.gz", md5).model_copy(update={"resolution": 8}))


def test_wrong_checksum_leaves_nothing(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    build_archive(root / "a.tar.gz")
    with pytest.raises(DatasetError, match="MD5 mismatch"):
        prepare_dataset(_cfg(tmp_path, f"{base}/a.tar.gz", "0" * 32))
    assert not (tmp_path / "out").exists()
    assert list((tmp_path / "cache").iterdir()) == []


def test_truncated_archive(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    full = root / "full.tar.gz"
    md5 = build_archive(full)
    (root / "cut.tar.gz").write_bytes(full.read_bytes()[:200])
    with pytest.raises(DatasetError, match="MD5 mismatch"):
        prepare_dataset(_cfg(tmp_path, f"{base}/cut.tar.gz", md5))
    assert not (tmp_path / "out").exists() and list((tmp_path / "cache").iterdir()) == []


def test_missing_label_field(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, base = http_root
    md5 = build_archive(root / "nolabel.tar.gz", drop_label_in="data_batch_3")
    with pytest.raises(DatasetError, match="data_batch_3 has no 'labels'"):
        prepare_dataset(_cfg(tmp_path, f"{base}/nolabel.tar.gz", md5))
    assert not (tmp_path / "out").exists()


def test_unreachable_server(tmp_path: Path) -> None:
    from infra.stack import free_port

    with pytest.raises(DatasetError, match="download failed"):
        prepare_dataset(_cfg(tmp_path, f"http://127.0.0.1:{free_port()}/x.tar.gz", "0" * 32))
