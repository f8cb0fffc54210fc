#!/bin/sh
# Fresh machine to first comparison: install, build, run experiments/quickstart.yaml (real
# Fashion-MNIST, Random / DQ / BGFDQ w/o and w/ SPD at 10%, two seeds), then print the comparison
# table with the paired differences between methods; leaves results/quickstart.db.
# Re-running skips finished cells.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/build.sh dqbench
./build/dqbench run experiments/quickstart.yaml
echo
./build/dqbench tables --db results/quickstart.db --print table1_main
