#!/usr/bin/env bash
# Create .venv and install elasticvit with the pinned, known-good versions in constraints.txt.
#
# Two traps this avoids (see README "Install"):
# - some machines add a local wheel folder to pip (PIP_FIND_LINKS and a global pip.conf) holding a
#   CPU-only torch; torchvision's registry wheels are CUDA builds that fail to import against it
#   ("operator torchvision::nms does not exist"), and timm imports torchvision. Ignoring both makes
#   pip take the registry's standard torch, which runs fine without a GPU.
# - the newest Prefect needs a certifi the registry lacks, and Prefect 3.8.8's server breaks with
#   newer FastAPI; constraints.txt pins a set that works together.
# The `mobile` extra (ExecuTorch, for the executorch-xnnpack latency backend) adds about 15 s; a
# machine where it does not install gets the rest, and that backend then says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[test,mobile]" \
  || { echo "install: the mobile extra (executorch) failed to install; installing without it" >&2
       "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[test]"; }
"$VENV/bin/python" -c "import torch, torchvision, timm; timm.create_model('resnet18', num_classes=10)" \
  || { echo "install check failed: torch/torchvision/timm do not import together" >&2; exit 1; }
echo "installed into $VENV ($("$VENV/bin/python" -c 'import importlib.metadata as m, torch
try: mobile = "executorch " + m.version("executorch")
except m.PackageNotFoundError: mobile = "no executorch: the executorch-xnnpack backend is unavailable"
print(f"torch {torch.__version__}, {mobile}")'))"
