"""A run killed with SIGKILL and restarted ends with the same weights, bit for bit, as one never
interrupted (CPU)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.test_training_loop import TINY_SPACE, tiny_config, write_tiny_data

CHILD = """
import os, signal, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
from elasticvit.config.experiment import ExperimentConfig
from elasticvit.training import train_supernet

cfg = ExperimentConfig.model_validate_json(Path(sys.argv[1]).read_text())
kill_at = int(sys.argv[4])

class KillAt:
    def on_step(self, record):
        if record.step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    def on_epoch(self, record):
        pass
    def on_checkpoint(self, path, step):
        pass

train_supernet(cfg, Path(sys.argv[2]), Path(sys.argv[3]), [KillAt()])
"""


def _run(cfg_path: Path, data: Path, out: Path, kill_at: int) -> int:
    root = Path(__file__).resolve().parents[1]
    args = [sys.executable, "-c", CHILD, str(cfg_path), str(data), str(out), str(kill_at)]
    return subprocess.run(args, cwd=root, env=_env(root), timeout=300).returncode


def _env(root: Path) -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_sigkilled_run_resumes_to_identical_weights(tmp_path: Path) -> None:
    data = write_tiny_data(tmp_path / "data")
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    # 3 epochs of 3 steps, checkpoints every 2 steps and at epoch ends: killed at step 5, the run
    # restarts mid-epoch from step 4; EMA, Mixup and drop-path exercise every saved RNG and state
    cfg = tiny_config(
        space, "performance", epochs=3, checkpoint_every_steps=2, ema_decay=0.8, mixup_alpha=0.4, drop_path=0.1,
        distillation="alpha",
    )
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(cfg.model_dump_json())

    assert _run(cfg_path, data, tmp_path / "straight", kill_at=-1) == 0
    assert _run(cfg_path, data, tmp_path / "killed", kill_at=5) == -signal.SIGKILL
    interrupted = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    assert interrupted["step"] == 4 and interrupted["batch_in_epoch"] == 1
    # the killed run's lock (its PID is gone) is taken over; a checkpoint write cut short leaves
    # a temporary file of atomic_path's naming, removed by the next run on the directory
    assert (tmp_path / "killed" / ".lock").exists()
    orphan = tmp_path / "killed" / ".checkpoint.pt.k1ll3d.tmp"
    orphan.write_bytes(b"half a checkpoint")
    assert _run(cfg_path, data, tmp_path / "killed", kill_at=-1) == 0
    assert not orphan.exists() and not (tmp_path / "killed" / ".lock").exists()

    straight = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    resumed = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    assert straight["step"] == resumed["step"] == 9
    for part in ("model", "ema"):
        assert straight[part].keys() == resumed[part].keys()
        for key, value in straight[part].items():
            assert torch.equal(value, resumed[part][key]), f"{part}.{key} differs"
    for key, value in straight["optimizer"]["state"].items():
        for name, tensor in value.items():
            assert torch.equal(torch.as_tensor(tensor), torch.as_tensor(resumed["optimizer"]["state"][key][name]))
    assert straight["sampler"] == resumed["sampler"]
    assert straight["progress"]["archs_digest"] == resumed["progress"]["archs_digest"]
    final_a = torch.load(tmp_path / "straight" / "supernet.pt", weights_only=True)["state_dict"]
    final_b = torch.load(tmp_path / "killed" / "supernet.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(v, final_b[k]) for k, v in final_a.items())
