#!/bin/sh
# Prints the selection-only experiment of the soak (tests/cli/soak.sh) and of the per-cell overhead
# bench (bench/cell_overhead.sh): 20 x SEEDS cells of a few milliseconds of selection each (synthetic
# embeddings, 4 classes x 250, d = 16; random and bgfdq(k=5) at ten ratios).
# Usage: soak_matrix.sh DATABASE CACHE_DIR SEEDS > experiment.yaml
set -eu
cat <<YAML
name: soak
database: $1
cache_dir: $2
timeout: 60s
threads: 1
datasets:
  syn: {kind: synthetic_embeddings, classes: 4, per_class: 250, dim: 16, clusters_per_class: 2}
extractor: {kind: none}
train: none
grid:
  method: [random, "bgfdq(k=5)"]
  ratio: [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]
  seed: [$(seq -s ', ' 0 $(($3 - 1)))]
YAML
