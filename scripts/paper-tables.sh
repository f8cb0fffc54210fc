#!/bin/sh
# Rebuilds paper_tables/ (or the folder given as $1) from the committed result databases listed
# below: Markdown + LaTeX tables, SVG figures, index.md. The output depends on the databases alone, so
# a test (tests/cli/paper_tables_reproduce.sh) checks that the committed folder is up to date.
# Usage: sh scripts/paper-tables.sh [OUT_DIR]    (DQBENCH=path/to/dqbench to use another build)
set -eu
repo="$(cd "$(dirname "$0")/.." && pwd)"
dqbench="${DQBENCH:-$repo/build/dqbench}"
out="${1:-paper_tables}"
cd "$repo"
# Paths are relative to the repository root: they appear in the generated text.
"$dqbench" tables --out "$out" \
  --db results/cpu_airbench94.db \
  --db results/fakeddit_scale.db \
  --db results/zoo_scale.db \
  --db results/cpu_selection_ablation.db \
  --db results/cpu_runtime.db \
  --db results/cpu_sweeps.db \
  > /dev/null
echo "paper-tables: wrote $out"
