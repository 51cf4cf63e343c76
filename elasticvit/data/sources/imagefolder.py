"""A class-per-folder tree of JPEG/PNG files (ImageNet style): ``root/<class>/<image>``.

Classes are the sub-folders in sorted order (hidden ones skipped). Every image is decoded to RGB,
centre-cropped to a square and resized to ``data.resolution`` at decode time (PIL, bilinear with
antialiasing), so a large tree is never held in memory at its original size. All images form one
pool that train, val and test are split from.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from elasticvit.config import DataConfig
from elasticvit.data.errors import DatasetError
from elasticvit.data.sources.base import RawDataset, checked_part

EXTENSIONS = {".jpg", ".jpeg", ".png"}


def load(cfg: DataConfig, progress: bool = False) -> RawDataset:
    from PIL import Image, ImageOps, UnidentifiedImageError

    tree = _tree(cfg.path)
    files = [(label, file) for label, (_, paths) in enumerate(tree) for file in paths]
    size = cfg.resolution
    images = np.empty((len(files), size, size, 3), dtype=np.uint8)
    for i, (_, file) in enumerate(tqdm(files, desc="decode", unit="img", disable=not progress)):
        try:
            with Image.open(file) as img:
                images[i] = np.asarray(ImageOps.fit(img.convert("RGB"), (size, size), Image.BILINEAR))
        except (UnidentifiedImageError, OSError) as exc:
            raise DatasetError(f"{file}: unreadable image: {exc}") from exc
    labels = np.asarray([label for label, _ in files], dtype=np.int64)
    names = tuple(name for name, _ in tree)
    return RawDataset(pool=checked_part(images, labels, len(names), str(cfg.path)), class_names=names)


def digest(cfg: DataConfig) -> str:
    """Names, sizes and modification times of every image: cheap even for ImageNet, and any
    edited, added or removed file changes it."""
    root = Path(cfg.path)  # type: ignore[arg-type]  (DataConfig requires a path for this source)
    h = hashlib.sha256()
    for _, paths in _tree(root):
        for file in paths:
            st = file.stat()
            h.update(f"{file.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _tree(root: Path | None) -> list[tuple[str, list[Path]]]:
    """(class name, sorted image files) per class folder, in sorted order; empty classes fail."""
    if root is None or not Path(root).is_dir():
        raise DatasetError(f"data.path: image folder not found: {root}")
    folders = sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DatasetError(f"{root}: no class folders (expected root/<class>/<image>)")
    tree = []
    for folder in folders:
        files = sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in EXTENSIONS)
        if not files:
            raise DatasetError(f"{folder}: class folder has no images ({', '.join(sorted(EXTENSIONS))})")
        tree.append((folder.name, files))
    return tree
