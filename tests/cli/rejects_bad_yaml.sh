#!/bin/sh
# A YAML with a misspelt key: non-zero exit, the file/line/key in the message, no database written.
set -u
dqbench="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/bad.yaml" <<YAML
name: bad
database: $dir/bad.db
datasets:
  fm: {kind: fashion_mnist}
grid:
  method: [random]
  ratoi: [0.1]
YAML
"$dqbench" run "$dir/bad.yaml" > "$dir/out" 2>&1
code=$?
cat "$dir/out"
[ "$code" -ne 0 ] || { echo "FAIL: exit code was 0"; exit 1; }
grep -q "bad.yaml:7:3: unknown axis 'ratoi'" "$dir/out" || { echo "FAIL: message lacks file:line:key"; exit 1; }
[ ! -e "$dir/bad.db" ] || { echo "FAIL: a database was written"; exit 1; }
echo "ok"
