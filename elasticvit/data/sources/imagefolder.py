"""A class-per-folder tree of JPEG/PNG files (ImageNet style): ``root/<class>/<image>``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from elasticvit.data.errors import DatasetError
from elasticvit.data.sources.base import RawDataset, checked_part

EXTENSIONS = {".jpg", ".jpeg", ".png"}
# Images are decoded at this size; the configured resolution is applied afterwards like for
# every other source, so all sources share one resize path.
DECODE_SIZE = 64


def load_imagefolder(root: Path | None, decode_size: int = DECODE_SIZE) -> RawDataset:
    from PIL import Image, UnidentifiedImageError

    if root is None or not Path(root).is_dir():
        raise DatasetError(f"data.path: image folder not found: {root}")
    classes = sorted(p for p in Path(root).iterdir() if p.is_dir())
    if not classes:
        raise DatasetError(f"{root}: no class folders")
    images, labels = [], []
    for label, folder in enumerate(classes):
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in EXTENSIONS)
        if not files:
            raise DatasetError(f"{folder}: class folder has no images ({', '.join(sorted(EXTENSIONS))})")
        for file in files:
            try:
                with Image.open(file) as img:
                    rgb = img.convert("RGB").resize((decode_size, decode_size), Image.BILINEAR)
            except (UnidentifiedImageError, OSError) as exc:
                raise DatasetError(f"{file}: unreadable image: {exc}") from exc
            images.append(np.asarray(rgb, dtype=np.uint8))
            labels.append(label)
    names = tuple(p.name for p in classes)
    return RawDataset(pool=checked_part(np.stack(images), np.asarray(labels), len(names), str(root)), class_names=names)
