#!/bin/sh
# Every experiment file under experiments/ validates, expands into at least one cell, and passes the
# checks a real run makes before any work (`dqbench run --dry-run`: a method that needs images on a
# features-only dataset fails here; `dqbench cells` alone skips those checks). Data that is missing
# on this machine is not a failure: the dry run still lists the cells and exits 4.
set -u
dqbench="$1"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# dry_run FILE: runs the dry run, sets $code and $out, checks that it listed every cell.
dry_run() {
  out=$("$dqbench" run --dry-run "$1" 2>&1)
  code=$?
  cells=$(echo "$out" | sed -n "1s/^dry run of '.*' (\([0-9]*\) cells,.*/\1/p")
  listed=$(echo "$out" | grep -c '^ *[0-9][0-9]*  [0-9a-f]\{12\}  ')
  if [ -z "$cells" ] || [ "$cells" -eq 0 ] || [ "$listed" -ne "$cells" ]; then
    echo "FAIL: $1: the dry run listed $listed of ${cells:-?} cells (exit $code):"; echo "$out"
    return 1
  fi
}

# The check itself: a configuration error fails (2, cells still listed), missing data does not (4),
# and a dry run writes nothing.
cat > "$tmp/config_error.yaml" <<YAML
name: config_error
database: $tmp/config_error.db
datasets: {syn: {kind: synthetic_embeddings, classes: 2, per_class: 20, dim: 4}}
extractor: {kind: none}
train: none
grid: {method: [random, adq], ratio: [0.5]}
YAML
cat > "$tmp/no_data.yaml" <<YAML
name: no_data
database: $tmp/no_data.db
datasets: {fm: {kind: fashion_mnist, path: $tmp/nowhere}}
extractor: {kind: none}
train: none
grid: {method: [random], ratio: [0.1, 0.2]}
YAML
dry_run "$tmp/config_error.yaml" || exit 1
[ "$code" -eq 2 ] && echo "$out" | grep -q "^  \[config\] .*method 'adq' needs the training images" ||
  { echo "FAIL: a method needing images on a features-only dataset: exit $code, expected 2:"; echo "$out"; exit 1; }
dry_run "$tmp/no_data.yaml" || exit 1
[ "$code" -eq 4 ] && echo "$out" | grep -q "^  \[data\] .*dataset 'fm'" ||
  { echo "FAIL: missing data: exit $code, expected 4:"; echo "$out"; exit 1; }
"$dqbench" run "$tmp/no_data.yaml" > "$tmp/real.out" 2>&1
[ $? -eq 2 ] || { echo "FAIL: a real run without data did not refuse with exit 2:"; cat "$tmp/real.out"; exit 1; }
[ -z "$(find "$tmp" -name '*.db*')" ] || { echo "FAIL: a dry run or a refused run wrote a database"; exit 1; }

cd "$repo"
status=0
count=0
for f in $(find experiments -name '*.yaml' | sort); do
  count=$((count + 1))
  dry_run "$f" || { status=1; continue; }
  case $code in
    0) echo "ok $f ($cells cells)" ;;
    4) echo "ok $f ($cells cells; data missing here)" ;;
    *) echo "FAIL: $f: a real run would refuse it (exit $code):"; echo "$out" | grep -v '^ *[0-9][0-9]*  [0-9a-f]\{12\}  '
       status=1 ;;
  esac
done
[ "$count" -gt 0 ] || { echo "FAIL: no experiment files found"; exit 1; }
exit $status
