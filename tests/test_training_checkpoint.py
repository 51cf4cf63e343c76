"""The resume checkpoint: every save keeps the one before, a damaged latest falls back to it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from elasticvit.errors import DamagedFileError
from elasticvit.training.checkpoint import (
    CHECKPOINT_NAME,
    PREVIOUS_CHECKPOINT_NAME,
    load_resumable,
    save_checkpoint,
)


def _save(out: Path, step: int, fingerprint: str = "f") -> None:
    save_checkpoint(out / CHECKPOINT_NAME, {"fingerprint": fingerprint, "step": step, "w": torch.full((4,), step)})


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:50])


def test_each_save_keeps_the_one_before(tmp_path: Path) -> None:
    for step in (1, 2, 3):
        _save(tmp_path, step)
    assert torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)["step"] == 3
    assert torch.load(tmp_path / PREVIOUS_CHECKPOINT_NAME, weights_only=True)["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [PREVIOUS_CHECKPOINT_NAME, CHECKPOINT_NAME]


def test_a_damaged_latest_falls_back_to_the_previous(tmp_path: Path) -> None:
    _save(tmp_path, 1)
    _save(tmp_path, 2)
    _truncate(tmp_path / CHECKPOINT_NAME)
    state = load_resumable(tmp_path, "f")
    assert state is not None and state["step"] == 1


def test_a_kill_between_the_two_renames_resumes_from_the_previous(tmp_path: Path) -> None:
    _save(tmp_path, 1)
    _save(tmp_path, 2)
    (tmp_path / CHECKPOINT_NAME).unlink()  # the latest renamed away, the new one not yet in place
    state = load_resumable(tmp_path, "f")
    assert state is not None and state["step"] == 1


def test_both_damaged_names_what_to_delete(tmp_path: Path) -> None:
    _save(tmp_path, 1)
    _save(tmp_path, 2)
    _truncate(tmp_path / CHECKPOINT_NAME)
    _truncate(tmp_path / PREVIOUS_CHECKPOINT_NAME)
    with pytest.raises(DamagedFileError, match=f"truncated or corrupt.*delete .*{CHECKPOINT_NAME} and "
                                               f".*{PREVIOUS_CHECKPOINT_NAME}"):
        load_resumable(tmp_path, "f")


def test_another_configurations_checkpoint_is_not_resumed(tmp_path: Path) -> None:
    _save(tmp_path, 1, fingerprint="other")
    assert load_resumable(tmp_path, "f") is None
