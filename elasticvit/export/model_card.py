"""A markdown model card per exported subnet: what it is, how fast, how accurate, where it came from."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from elasticvit.utils.atomic import write_text


class DeviceLatency(BaseModel):
    model_config = ConfigDict(frozen=True)

    predicted_ms: float | None = None
    measured_ms: float | None = None


class ModelCard(BaseModel):
    """Everything the card shows; also written beside it as JSON for tools."""

    model_config = ConfigDict(frozen=True)

    name: str
    device: str
    budget_ms: float
    arch_id: str
    arch: dict[str, Any]
    resolution: int
    macs: int
    params: int
    latency: dict[str, DeviceLatency]
    val_accuracy: float
    test_accuracy: float | None = None
    test_split: str = "test"
    onnx_max_abs_diff: float | None = None
    supernet_checkpoint: str
    supernet_run_id: str | None = None
    data_version: str | None = None
    preprocessing: str = ""
    files: dict[str, str] = {}


def render_model_card(card: ModelCard) -> str:
    rows = "\n".join(
        f"| {device}{' (target)' if device == card.device else ''} | {_ms(lat.predicted_ms)} | {_ms(lat.measured_ms)} |"
        for device, lat in sorted(card.latency.items())
    )
    files = "\n".join(f"- {kind}: `{name}`" for kind, name in sorted(card.files.items())) or "- none"
    test = f"{card.test_accuracy:.2%}" if card.test_accuracy is not None else "not measured"
    parity = f"{card.onnx_max_abs_diff:.2e}" if card.onnx_max_abs_diff is not None else "no ONNX export"
    return f"""# {card.name}

ElasticViT subnet chosen for device **{card.device}** under a latency budget of **{card.budget_ms:g} ms**,
taken from the supernet's shared weights without retraining (BatchNorm statistics recalibrated and
baked into the weights).

## Summary

| | |
|---|---|
| arch id | `{card.arch_id}` |
| input resolution | {card.resolution} x {card.resolution} |
| MACs | {card.macs / 1e6:.2f} M |
| params | {card.params / 1e6:.3f} M |
| val top-1 (search) | {card.val_accuracy:.2%} |
| {card.test_split} top-1 (standalone model) | {test} |
| ONNX max abs logit difference vs PyTorch | {parity} |

## Latency

Batch 1. Predicted from each device's block latency table; measured end to end on the device's
backend where available.

| device | predicted (ms) | measured (ms) |
|---|---|---|
{rows}

## Provenance

- supernet checkpoint: `{card.supernet_checkpoint}`
- supernet MLflow run: `{card.supernet_run_id or "unknown"}`
- data version: `{card.data_version or "unknown"}`

## Input

{card.preprocessing or "Float32 NCHW tensors preprocessed as during training."}

## Files

{files}

## Arch

```json
{json.dumps(card.arch, indent=2, sort_keys=True)}
```
"""


def write_model_card(path: str | os.PathLike[str], card: ModelCard) -> Path:
    """Write ``<path>`` (markdown) and ``<path>.json`` beside it, each atomically."""
    path = Path(path)
    write_text(path.with_suffix(".json"), card.model_dump_json(indent=2))
    return write_text(path, render_model_card(card))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
