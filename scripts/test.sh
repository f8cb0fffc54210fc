#!/bin/sh
# Fresh machine to green tests (what .ci/run calls): install what is missing, then
#   1. build with Debian's LibTorch 1.13 (CPU) in build/ and run the whole test suite;
#   2. the unit, CLI and fuzz-replay tests again under AddressSanitizer and UndefinedBehaviorSanitizer
#      (build-asan/, LibTorch-free), then the soak at CI size (scripts/hardening.sh says what it leaves out);
#   3. the second LibTorch flavour (README "GPU"): PyPI's torch 2.x with CUDA compiled in, in build-pip/,
#      and the tests that depend on LibTorch (label libtorch) against it.
# DQ_TORCH=pip runs step 3 only.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh --test-tools
pip_flavour() {
  DQ_TORCH=pip sh scripts/build.sh dqbench dq_model_tests
  (cd build-pip && ctest --output-on-failure -j 2 -L libtorch)
}
if [ "${DQ_TORCH:-debian}" = pip ]; then
  pip_flavour
  exit 0
fi
sh scripts/build.sh
(cd build && ctest --output-on-failure -j 2)
sh scripts/hardening.sh ci
pip_flavour
