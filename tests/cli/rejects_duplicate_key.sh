#!/bin/sh
# Issue 11: a key given twice in a mapping (here the issue's grid: ratio, twice) is refused with
# FILE:LINE:COL and the key, exit 2, by every command that reads the file; nothing is written.
set -u
dqbench="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/dup.yaml" <<YAML
name: dup
database: $dir/dup.db
datasets:
  fm: {kind: fashion_mnist}
grid:
  ratio: [0.1, 0.2]
  method: [random]
  ratio: [0.5]
YAML
want="$dir/dup.yaml:8:3 (key 'ratio'): duplicate key (first at line 6)"
for cmd in cells run "datasets inspect"; do
  $dqbench $cmd "$dir/dup.yaml" > "$dir/out" 2>&1
  code=$?
  cat "$dir/out"
  [ "$code" -eq 2 ] || { echo "FAIL: '$cmd' exit code was $code, expected 2"; exit 1; }
  grep -qF "error: $want" "$dir/out" || { echo "FAIL: '$cmd' message lacks '$want'"; exit 1; }
done
[ ! -e "$dir/dup.db" ] || { echo "FAIL: a database was written"; exit 1; }
echo "ok"
