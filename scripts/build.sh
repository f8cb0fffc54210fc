#!/bin/sh
# Configures (once) and builds with Ninja, two jobs (fits 2 cores / 24 GiB).
# Arguments name targets (e.g. dqbench); none builds everything (binary, tests, benchmarks).
# DQ_TORCH picks the LibTorch flavour (README "GPU"):
#   debian (default)  build/      Debian's libtorch-dev 1.13, CPU only
#   pip               build-pip/  PyPI's torch 2.x (pinned in scripts/install-torch-pip.sh, which this
#                                 runs: a virtual environment .venv-torch/), CUDA compiled in
set -eu
cd "$(dirname "$0")/.."
case "${DQ_TORCH:-debian}" in
  debian)
    dir=build
    [ -f "$dir/build.ninja" ] || cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
    ;;
  pip)
    dir=build-pip
    python=$(sh scripts/install-torch-pip.sh | tail -n 1)
    if [ ! -f "$dir/build.ninja" ]; then
      prefix=$("$python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
      cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$prefix" -DDQ_PYTHON="$python"
    fi
    ;;
  *) echo "DQ_TORCH must be debian or pip, not '$DQ_TORCH'" >&2; exit 2 ;;
esac
if [ $# -gt 0 ]; then
  for target in "$@"; do cmake --build "$dir" -j "${DQ_BUILD_JOBS:-2}" --target "$target"; done
else
  cmake --build "$dir" -j "${DQ_BUILD_JOBS:-2}"
fi
