#!/bin/sh
# `dqbench tables` on the committed databases reproduces the committed paper_tables/ byte for byte
# (README.md there is hand-written and not generated).
set -u
dqbench="$1"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
DQBENCH="$dqbench" sh "$repo/scripts/paper-tables.sh" "$dir/out" || { echo "FAIL: scripts/paper-tables.sh failed"; exit 1; }
if ! diff -r -x README.md "$repo/paper_tables" "$dir/out"; then
  echo "FAIL: paper_tables/ differs from what the committed databases give; run: sh scripts/paper-tables.sh"
  exit 1
fi
# --print gives one table's Markdown, the same bytes as its file; an unknown table is an error.
cd "$repo"
db_args=$(grep -o 'results/[A-Za-z0-9_]*\.db' scripts/paper-tables.sh | sed 's/^/--db /')  # the script's databases
# shellcheck disable=SC2086
"$dqbench" tables $db_args --print table4_runtime > "$dir/t4.md" || { echo "FAIL: --print table4_runtime failed"; exit 1; }
cmp -s "$dir/t4.md" paper_tables/table4_runtime.md || { echo "FAIL: --print table4_runtime differs from its file"; exit 1; }
if "$dqbench" tables --db results/cpu_airbench94.db --print nope > "$dir/bad" 2>&1; then
  echo "FAIL: --print of an unknown table succeeded"; exit 1
fi
grep -q "no such table" "$dir/bad" || { echo "FAIL: --print nope did not say why"; cat "$dir/bad"; exit 1; }
echo "ok"
