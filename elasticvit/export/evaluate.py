"""Scoring exported models (``.pt`` checkpoints or ``.onnx`` files) on labelled images.

The images go through the same preprocessing as in training (``InMemoryLoader`` without
augmentation: scale to [0, 1], normalise), then are resized to each model's input resolution, so a
user can score exported models on data the pipeline never saw.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from elasticvit.data import DatasetError, InMemoryLoader, resize_batch
from elasticvit.data.arrays import read_npz
from elasticvit.model import load_subnet

EVAL_BATCH = 500


def load_npz(path: str | os.PathLike[str]) -> tuple[Tensor, Tensor]:
    """``images`` (uint8, N x H x W x 3) and ``labels`` from an npz file, checked."""
    path = Path(path)
    data = read_npz(path, ("images", "labels"))
    images, labels = data["images"], data["labels"]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise DatasetError(f"{path}: 'images' must be uint8 N x H x W x 3, got {images.dtype} {images.shape}")
    if labels.shape != (len(images),):
        raise DatasetError(f"{path}: {len(images)} images but labels of shape {labels.shape}")
    if len(images) == 0:
        raise DatasetError(f"{path}: no images; expected at least one labelled image")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise DatasetError(f"{path}: 'labels' must be non-negative integers (class indices), got {labels.dtype} "
                           f"from {labels.min()} to {labels.max()}")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def evaluate_files(paths: Iterable[str | os.PathLike[str]], images: Tensor, labels: Tensor) -> dict[str, float]:
    """Top-1 accuracy of every model file on ``images``/``labels``, keyed by the path as given."""
    scores = {}
    for p in paths:
        try:
            scores[str(p)] = accuracy(_predictor(Path(p)), images, labels)
        except DatasetError as exc:
            raise DatasetError(f"{p}: {exc}") from None
    return scores


def accuracy(predict: Callable[[Tensor], Tensor], images: Tensor, labels: Tensor) -> float:
    """Top-1 of ``predict`` (normalised NCHW batch -> logits) over the whole set; labels the model
    cannot predict (a class index beyond its head) are an error, not a silent miss."""
    if len(labels) == 0:
        raise DatasetError("no images to score")
    loader = InMemoryLoader(images, labels, batch_size=EVAL_BATCH, shuffle=False, augment=False)
    correct = 0
    for x, y in loader:
        logits = predict(x)
        if int(labels.max()) >= logits.shape[-1]:
            raise DatasetError(f"labels go up to {int(labels.max())} but the model predicts {logits.shape[-1]} "
                               "classes: this data is not the task the model was trained on")
        correct += int((logits.argmax(-1) == y).sum())
    return correct / len(labels)


def _predictor(path: Path) -> Callable[[Tensor], Tensor]:
    if path.suffix == ".onnx":
        return _onnx_predictor(path)
    model = load_subnet(path)
    resolution = model.arch.resolution

    @torch.no_grad()
    def predict(x: Tensor) -> Tensor:
        return model(resize_batch(x, resolution))

    return predict


def _onnx_predictor(path: Path) -> Callable[[Tensor], Tensor]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    node = session.get_inputs()[0]
    resolution = int(node.shape[-1])  # exported with a fixed square input, only the batch is dynamic

    def predict(x: Tensor) -> Tensor:
        (logits,) = session.run(None, {node.name: resize_batch(x, resolution).numpy()})
        return torch.from_numpy(logits)

    return predict
