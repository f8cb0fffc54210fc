#!/bin/sh
# The second LibTorch flavour (README "GPU"): PyPI's torch wheel, whose LibTorch (headers, libraries,
# CMake package) is CUDA-enabled and brings its CUDA runtime as nvidia-* wheels. Installs the pinned
# versions into a virtual environment (default .venv-torch/, or $DQ_TORCH_VENV) made with Debian's
# python3 -m venv; idempotent. torchvision and timm are there for scripts/export_*.py (the paper's
# ResNet-18 and MAE as TorchScript). Prints the venv's python on the last line.
#
# Pinned: torch 2.14.1 (CUDA 13.0, the C++11 ABI that Debian's libraries use) with its torchvision.
# A GPU whose driver predates CUDA 13 needs an older pair: DQ_TORCH_PIP="torch==X torchvision==Y".
set -eu
cd "$(dirname "$0")/.."
venv="${DQ_TORCH_VENV:-.venv-torch}"
pins="${DQ_TORCH_PIP:-torch==2.14.1 torchvision==0.29.2} timm==1.0.31"
stamp="$venv/.dq-pins"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pins" ]; then
  echo "$venv has $pins" >&2
else
  [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  # shellcheck disable=SC2086
  "$venv/bin/python" -m pip install -q --disable-pip-version-check $pins
  echo "$pins" >"$stamp"
fi
echo "$(cd "$venv" && pwd)/bin/python"
