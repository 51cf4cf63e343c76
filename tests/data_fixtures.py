"""Fixtures and builders for the data tests: small CIFAR-format archives, npz files, a local server."""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import io
import pickle
import socket
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

SHARED_CIFAR10 = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10"
CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PER_BATCH = 20  # images per CIFAR batch in the test archives: two of each class


def cifar_batch(seed: int, drop: str | None = None) -> dict[bytes, object]:
    """One batch in the official layout: ``data`` N x 3072 uint8 (planar RGB), ``labels`` a list."""
    rng = np.random.default_rng(seed)
    batch: dict[bytes, object] = {
        b"data": rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8),
        b"labels": [i % 10 for i in range(PER_BATCH)],
        b"batch_label": b"testing batch",
    }
    if drop:
        del batch[drop.encode()]
    return batch


class OpensAFile:
    """Unpickling this calls ``open(path, "w")``: a stand-in for a payload that runs code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.path), "w")


def build_cifar_archive(path: Path, drop_label_in: str | None = None, protocol: int = pickle.DEFAULT_PROTOCOL,
                        payload: object | None = None) -> str:
    """``cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}`` as a tar.gz; returns its MD5.
    ``payload`` is stored in ``data_batch_2`` beside the data."""
    members = {"batches.meta": {b"label_names": [n.encode() for n in CIFAR_NAMES], b"num_vis": 3072}}
    for i in range(1, 6):
        name = f"data_batch_{i}"
        members[name] = cifar_batch(i, "labels" if name == drop_label_in else None)
    if payload is not None:
        members["data_batch_2"][b"extra"] = payload
    members["test_batch"] = cifar_batch(9)
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in members.items():
            data = pickle.dumps(obj, protocol=protocol)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return md5(path)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_npz(path: Path, n_per_class: int = 10, classes: int = 3, size: int = 8, seed: int = 0, **overrides) -> Path:
    rng = np.random.default_rng(seed)
    arrays = {
        "images": rng.integers(0, 256, (n_per_class * classes, size, size, 3), dtype=np.uint8),
        "labels": np.repeat(np.arange(classes), n_per_class),
    }
    arrays.update(overrides)
    np.savez(path, **arrays)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BASIC_AUTH = ("alice", "s3cret")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files; a path under ``/cut/`` announces the full length but closes halfway; one under
    ``/private/`` needs HTTP basic auth with ``BASIC_AUTH``."""

    def do_GET(self) -> None:
        if self.path.startswith("/private/"):
            expected = "Basic " + base64.b64encode(":".join(BASIC_AUTH).encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="data"')
                self.end_headers()
                return None
            self.path = self.path.removeprefix("/private")
            return super().do_GET()
        if not self.path.startswith("/cut/"):
            return super().do_GET()
        data = (Path(self.directory) / self.path.removeprefix("/cut/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1: (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def shared_cifar10() -> Path:
    """The real CIFAR-10 subset beside the clone (``../shared/data/cifar10``), else skip."""
    if not (SHARED_CIFAR10 / "train.npz").exists():
        pytest.skip(f"real CIFAR-10 subset not found at {SHARED_CIFAR10} (only present beside a CI clone)")
    return SHARED_CIFAR10
