"""Dataset preparation (sources, deterministic splits, manifest) and the in-memory training loader."""

from elasticvit.data.errors import DatasetError
from elasticvit.data.loader import InMemoryLoader, resize_batch
from elasticvit.data.manifest import Manifest, load_split, read_manifest
from elasticvit.data.prepare import prepare_dataset

__all__ = [
    "DatasetError",
    "InMemoryLoader",
    "Manifest",
    "load_split",
    "prepare_dataset",
    "read_manifest",
    "resize_batch",
]
