"""The prepare stage: read a source, split, resize, write the splits and the manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from elasticvit import __version__
from elasticvit.config import DataConfig
from elasticvit.data.errors import DatasetError
from elasticvit.data.manifest import SPLITS, Manifest, read_manifest
from elasticvit.data.sources import Part, RawDataset, load_source, source_digest
from elasticvit.data.sources.base import require_every_class
from elasticvit.data.split import stratified_split
from elasticvit.layout import manifest_path
from elasticvit.utils.atomic import atomic_path, write_json
from elasticvit.utils.hashing import sha256_file, stable_hash

_RESIZE_CHUNK = 2048


def prepare_dataset(cfg: DataConfig, progress: bool = True) -> Manifest:
    """Write ``train.npz``, ``val.npz``, ``test.npz`` and ``manifest.json`` to ``cfg.output_dir``.

    Splits are stratified per class and drawn from ``cfg.seed`` alone. Where the source defines
    its own held-out part, it is used instead of carving one out: CIFAR-10's official test batch
    is the test split; for npz see :mod:`elasticvit.data.sources.npz` (a lone ``val.npz`` becomes
    the test split, since search must not tune on the set it is reported on). Val is otherwise
    always split from the training pool, so search never sees test images.

    Idempotent: a complete output with the same config hash and source digest is returned as is,
    with no file rewritten. Every check runs and every array is built in memory before the first
    write, so bad input fails with :class:`DatasetError` and leaves the folder as it was. Each
    file is written atomically and the manifest last, so a manifest means a complete output.
    """
    out = Path(cfg.output_dir)
    config_hash = data_config_hash(cfg)
    digest = source_digest(cfg)
    existing = _complete_output(out, config_hash, digest)
    if existing is not None:
        return existing
    raw = load_source(cfg, progress)
    splits = _split(raw, cfg)
    return _write(out, splits, raw.class_names, cfg, config_hash, digest)


def data_config_hash(cfg: DataConfig) -> str:
    """What the prepared arrays are a function of (not where they are written)."""
    return stable_hash(cfg.model_dump(mode="json", exclude={"output_dir"}))


def _resize_images(images: np.ndarray, resolution: int) -> np.ndarray:
    """Resize uint8 N x H x W x 3 images (antialiased bilinear), in chunks to bound memory."""
    if images.shape[1] == resolution and images.shape[2] == resolution:
        return images
    out = []
    for start in range(0, len(images), _RESIZE_CHUNK):
        x = torch.from_numpy(images[start : start + _RESIZE_CHUNK]).permute(0, 3, 1, 2).float()
        y = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
        out.append(y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy())
    return np.concatenate(out)


def _complete_output(out: Path, config_hash: str, digest: str) -> Manifest | None:
    if not manifest_path(out).exists():
        return None
    try:
        manifest = read_manifest(out)
    except DatasetError:
        return None
    if manifest.config_hash != config_hash or manifest.source_digest != digest:
        return None
    for name, sha in manifest.sha256.items():
        if not (out / name).exists() or sha256_file(out / name) != sha:
            return None
    return manifest


def _split(raw: RawDataset, cfg: DataConfig) -> dict[str, Part]:
    names = raw.class_names
    require_every_class(raw.pool.labels, names, f"{cfg.source} source")
    given = {"val": raw.val, "test": raw.test}
    fractions = {"val": cfg.val_fraction, "test": cfg.test_fraction}
    carve = {split: frac for split, frac in fractions.items() if given[split] is None}
    index = stratified_split(raw.pool.labels, len(names), carve, cfg.seed, cfg.max_per_class)
    parts = {split: Part(raw.pool.images[idx], raw.pool.labels[idx]) for split, idx in index.items()}
    for split, part in given.items():
        if part is not None:
            keep = stratified_split(part.labels, len(names), {}, cfg.seed, cfg.max_per_class)["train"]
            parts[split] = Part(part.images[keep], part.labels[keep])
    for split, part in parts.items():
        hint = " (too few images per class for the val/test fractions; raise max_per_class?)" if split in carve else ""
        require_every_class(part.labels, names, f"{cfg.source} {split} split", hint)
    return {split: Part(_resize_images(parts[split].images, cfg.resolution), parts[split].labels) for split in SPLITS}


def _write(
    out: Path, splits: dict[str, Part], names: tuple[str, ...], cfg: DataConfig, config_hash: str, digest: str
) -> Manifest:
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path(out).unlink(missing_ok=True)  # from here on the folder reads as incomplete
    written: list[Path] = []
    try:
        for split, part in splits.items():
            file = out / f"{split}.npz"
            with atomic_path(file) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, images=part.images, labels=part.labels, class_names=np.asarray(names))
            written.append(file)
        manifest = _manifest(splits, names, cfg, config_hash, digest, {f.name: sha256_file(f) for f in written})
        write_json(manifest_path(out), manifest.model_dump(mode="json"))
    except BaseException:
        # A failed write (disk full, interrupt) removes what this run wrote.
        for file in written:
            file.unlink(missing_ok=True)
        if created and not any(out.iterdir()):
            out.rmdir()
        raise
    return manifest


def _manifest(
    splits: dict[str, Part], names: tuple[str, ...], cfg: DataConfig, config_hash: str, digest: str, sha: dict[str, str]
) -> Manifest:
    counts = {
        split: {names[c]: int(n) for c, n in enumerate(np.bincount(p.labels, minlength=len(names)))}
        for split, p in splits.items()
    }
    return Manifest(
        source=cfg.source,
        num_classes=len(names),
        class_names=list(names),
        resolution=cfg.resolution,
        counts=counts,
        sha256=sha,
        config_hash=config_hash,
        source_digest=digest,
        version=stable_hash(sha, length=12),
        created_by=f"elasticvit {__version__}",
    )
