#!/bin/sh
# Configures (once) and builds everything into build/ with Ninja, two jobs (fits 2 cores / 24 GiB).
set -eu
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "${DQ_BUILD_JOBS:-2}"
