#!/bin/sh
# Configures (once) and builds into build/ with Ninja, two jobs (fits 2 cores / 24 GiB).
# Arguments name targets (e.g. dqbench); none builds everything (binary, tests, benchmarks).
set -eu
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ $# -gt 0 ]; then
  for target in "$@"; do cmake --build build -j "${DQ_BUILD_JOBS:-2}" --target "$target"; done
else
  cmake --build build -j "${DQ_BUILD_JOBS:-2}"
fi
