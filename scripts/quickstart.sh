#!/bin/sh
# Fresh machine to first table: install, build, run experiments/quickstart.yaml (real Fashion-MNIST,
# Random at 10%, 20% and 100%, two seeds), print the results; leaves results/quickstart.db.
# Re-running skips finished cells.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/build.sh dqbench
./build/dqbench run experiments/quickstart.yaml
