"""The prepare stage: read a source, resize, split, write the splits and the manifest."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from elasticvit import __version__
from elasticvit.config import DataConfig
from elasticvit.data.errors import DatasetError
from elasticvit.data.manifest import MANIFEST, Manifest, read_manifest
from elasticvit.data.sources import RawDataset, load_source
from elasticvit.data.sources.base import Part, require_every_class
from elasticvit.data.split import stratified_split
from elasticvit.utils.hashing import sha256_file, stable_hash

_RESIZE_CHUNK = 2048


def prepare_dataset(cfg: DataConfig, progress: bool = True) -> Manifest:
    """Prepare ``cfg.output_dir`` and return its manifest.

    A complete output made from the same config is returned as is (nothing is rewritten). The
    new output is built in a temporary folder beside the target and swapped in only when
    complete, so a failure leaves the previous output (or nothing) in place, never a mix.
    """
    out = Path(cfg.output_dir)
    digest = data_config_hash(cfg)
    existing = _complete_output(out, digest)
    if existing is not None:
        return existing
    raw = load_source(cfg)
    splits = _split(raw, cfg)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        manifest = _write(staging, splits, raw.class_names, cfg, digest)
        _swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def data_config_hash(cfg: DataConfig) -> str:
    """What the prepared arrays are a function of (not where they are written)."""
    return stable_hash(cfg.model_dump(mode="json", exclude={"output_dir"}))


def _complete_output(out: Path, digest: str) -> Manifest | None:
    if not (out / MANIFEST).exists():
        return None
    try:
        manifest = read_manifest(out)
    except DatasetError:
        return None
    if manifest.config_hash != digest:
        return None
    for name, sha in manifest.sha256.items():
        if not (out / name).exists() or sha256_file(out / name) != sha:
            return None
    return manifest


def _split(raw: RawDataset, cfg: DataConfig) -> dict[str, Part]:
    names = raw.class_names
    require_every_class(raw.pool.labels, names, f"{cfg.source} source")
    fractions = {"val": cfg.val_fraction}
    if raw.test is None:
        fractions["test"] = cfg.test_fraction
    index = stratified_split(raw.pool.labels, len(names), fractions, cfg.seed, cfg.max_per_class)
    parts = {name: Part(raw.pool.images[idx], raw.pool.labels[idx]) for name, idx in index.items()}
    if raw.test is not None:
        test_index = stratified_split(raw.test.labels, len(names), {}, cfg.seed, cfg.max_per_class)["train"]
        parts["test"] = Part(raw.test.images[test_index], raw.test.labels[test_index])
    for name, part in parts.items():
        require_every_class(part.labels, names, f"{cfg.source} {name} split")
    return {name: Part(resize_images(p.images, cfg.resolution), p.labels) for name, p in parts.items()}


def resize_images(images: np.ndarray, resolution: int) -> np.ndarray:
    """Resize uint8 N x H x W x 3 images (antialiased bilinear), in chunks to bound memory."""
    if images.shape[1] == resolution and images.shape[2] == resolution:
        return images
    out = []
    for start in range(0, len(images), _RESIZE_CHUNK):
        x = torch.from_numpy(images[start : start + _RESIZE_CHUNK]).permute(0, 3, 1, 2).float()
        y = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
        out.append(y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy())
    return np.concatenate(out)


def _write(staging: Path, splits: dict[str, Part], names: tuple[str, ...], cfg: DataConfig, digest: str) -> Manifest:
    sha = {}
    for name, part in splits.items():
        file = staging / f"{name}.npz"
        with open(file, "wb") as fh:
            np.savez(fh, images=part.images, labels=part.labels, class_names=np.asarray(names))
        sha[file.name] = sha256_file(file)
    counts = {
        name: {names[c]: int(n) for c, n in enumerate(np.bincount(p.labels, minlength=len(names)))}
        for name, p in splits.items()
    }
    manifest = Manifest(
        source=cfg.source,
        num_classes=len(names),
        class_names=list(names),
        resolution=cfg.resolution,
        counts=counts,
        sha256=sha,
        config_hash=digest,
        version=stable_hash(sha, length=12),
        created_by=f"elasticvit {__version__}",
    )
    (staging / MANIFEST).write_text(json.dumps(manifest.model_dump(mode="json"), indent=2, sort_keys=True) + "\n")
    return manifest


def _swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` by ``staging`` with renames only (the old output is removed last)."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{staging.name}")
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
