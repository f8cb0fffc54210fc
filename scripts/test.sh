#!/bin/sh
# Fresh machine to green tests: install, build, run the whole test suite with CTest.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh --test-tools
# --- LibTorch flavour (README "GPU"). DQ_TORCH=pip: PyPI's torch 2.x (CUDA compiled in) in build-pip/,
# where the LibTorch-dependent tests run (label libtorch: the networks, the cells end to end, the
# paper's exported models); the default, Debian's CPU-only LibTorch, builds and runs everything.
if [ "${DQ_TORCH:-debian}" = pip ]; then
  DQ_TORCH=pip sh scripts/build.sh dqbench dq_model_tests
  cd build-pip && ctest --output-on-failure -j 2 -L libtorch
  exit 0
fi
# --- end of the LibTorch flavour block
sh scripts/build.sh
(cd build && ctest --output-on-failure -j 2)

# ---- hardening (issue 23): the unit, CLI and fuzz-replay tests again under AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/, LibTorch-free), then the soak at CI size (random kills, a
# second runner, a full tmpfs). scripts/hardening.sh says what is left out and why.
sh scripts/hardening.sh ci
