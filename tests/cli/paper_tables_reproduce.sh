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
echo "ok"
