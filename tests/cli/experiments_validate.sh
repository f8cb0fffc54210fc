#!/bin/sh
# Every experiment file under experiments/ validates and expands into at least one cell
# (`dqbench cells` lists the matrix without running anything).
set -u
dqbench="$1"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
status=0
count=0
for f in $(find experiments -name '*.yaml' | sort); do
  count=$((count + 1))
  if ! out=$("$dqbench" cells "$f" 2>&1); then
    echo "FAIL: $f does not validate:"; echo "$out"; status=1; continue
  fi
  [ -n "$out" ] || { echo "FAIL: $f expands into no cells"; status=1; continue; }
  echo "ok $f ($(echo "$out" | wc -l) cells)"
done
[ "$count" -gt 0 ] || { echo "FAIL: no experiment files found"; exit 1; }
exit $status
