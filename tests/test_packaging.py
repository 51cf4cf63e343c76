"""The built wheel carries the shipped configs: installed away from the checkout, it finds them."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_finds_the_shipped_configs(tmp_path: Path) -> None:
    # the checkout's own install is editable; this builds a real wheel (from a copy: setuptools
    # writes build/ and *.egg-info beside the sources) and installs it without its dependencies,
    # which this environment already has, into a folder that shadows the checkout
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".*", "artifacts", "build", "*.egg-info", "__pycache__"))
    # without setuptools in this environment (Python 3.12+ venvs), pip fetches it into an isolated build
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, str(source),
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
    wheel = next((tmp_path / "dist").glob("elasticvit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("elasticvit/configs/cifar10.yaml", "elasticvit/configs/spaces/cifar.yaml",
                    "elasticvit/configs/devices/torch-cpu-1t.yaml"):
        assert shipped in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ELASTICVIT_CONFIGS"}
    env["PYTHONPATH"] = str(target)
    code = (
        "import elasticvit, cli.main; from elasticvit.config import load_config; "
        "from elasticvit.space import load_space; from elasticvit.latency import load_device; "
        "print(elasticvit.__file__); print(load_config('cifar10').space.name, load_space('cifar').name, "
        "load_device('torch-cpu-1t').name)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                         check=True)
    where, found = out.stdout.strip().splitlines()
    assert Path(where).is_relative_to(target), f"imported {where}, not the installed wheel"
    assert found == "cifar cifar torch-cpu-1t"
    command = target / "bin" / "elasticvit"  # the wheel's console script
    shown = subprocess.run([str(command), "space", "stats", "--space", "cifar"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert "cifar" in shown
