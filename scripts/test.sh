#!/bin/sh
# Fresh machine to green tests: install, build, run the whole test suite with CTest.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/build.sh
cd build && ctest --output-on-failure -j 2
