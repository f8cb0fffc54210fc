#!/bin/sh
# `dqbench verify` on every committed database: each results/*.db must pass (with --sample 0: CI has
# no artefact cache, so every check but the re-derivation of selections runs).
set -u
dqbench="$1"
repo="$2"
cd "$repo"
status=0
found=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for db in results/*.db; do
  [ -f "$db" ] || continue
  found=$((found + 1))
  if "$dqbench" verify "$db" --sample 0 >"$out" 2>&1; then
    echo "ok: $db ($(tail -1 "$out"))"
  else
    cat "$out"; echo "FAIL: $db does not verify"; status=1
  fi
done
[ "$found" -gt 0 ] || { echo "FAIL: no database under results/"; exit 1; }
[ $status -eq 0 ] && echo "ok: all $found committed databases verify"
exit $status
