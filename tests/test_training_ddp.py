"""Two CPU ranks under torchrun (gloo): same subnets on both, identical weights at the end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_training_loop import TINY_SPACE, tiny_config, write_tiny_data

RANK_SCRIPT = """
import os, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
from elasticvit.config.experiment import ExperimentConfig
from elasticvit.training import train_supernet

cfg = ExperimentConfig.model_validate_json(Path(sys.argv[1]).read_text())
out = Path(sys.argv[3])
result = train_supernet(cfg, Path(sys.argv[2]), out)
(out / f"result-{os.environ['RANK']}.json").write_text(result.model_dump_json())
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_rank_run_keeps_replicas_identical(tmp_path: Path) -> None:
    data = write_tiny_data(tmp_path / "data")
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    cfg = tiny_config(space, "performance", batch_size=16, ema_decay=0.9)
    (tmp_path / "cfg.json").write_text(cfg.model_dump_json())
    (tmp_path / "rank.py").write_text(RANK_SCRIPT)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
        "--master_port", str(_free_port()), str(tmp_path / "rank.py"), str(tmp_path / "cfg.json"), str(data),
        str(tmp_path / "out"),
    ]
    proc = subprocess.run(cmd, cwd=root, env=env, timeout=300, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads((tmp_path / "out" / f"result-{r}.json").read_text()) for r in (0, 1)]
    for result in results:
        assert result["steps"] == 6
        ranks = {r["rank"]: r for r in result["replicas"]}
        assert set(ranks) == {0, 1}
        # computed independently on each rank: the subnet sequences and the final weights agree
        assert ranks[0]["archs_sha256"] == ranks[1]["archs_sha256"]
        assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
    assert results[0]["final_metrics"] == results[1]["final_metrics"]
    assert (tmp_path / "out" / "supernet.pt").exists()
