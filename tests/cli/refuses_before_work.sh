#!/bin/sh
# Issue 11: options that cannot be honoured are refused before any work (the inputs here do not even
# exist: an error about them would mean the options were checked too late), and nothing is written.
set -u
dqbench="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails() {  # $1 = expected exit code (or nonzero), $2 = expected message, then the command
  code_want=$1 want=$2
  shift 2
  "$@" > "$dir/out" 2>&1
  code=$?
  cat "$dir/out"
  if [ "$code_want" = nonzero ]; then
    [ "$code" -ne 0 ] || { echo "FAIL: exit code was 0: $*"; exit 1; }
  else
    [ "$code" -eq "$code_want" ] || { echo "FAIL: exit code was $code, expected $code_want: $*"; exit 1; }
  fi
  grep -qF -- "$want" "$dir/out" || { echo "FAIL: message lacks '$want': $*"; exit 1; }
}
fails 2 "dqbench select: --bins-out $dir/bins.npy: method 'bgfdq' produces no bins (methods with bins: adq, dq, dqas_approx)" \
  "$dqbench" select --method "bgfdq(k=10)" --embeddings "$dir/none.npy" --labels "$dir/none.npy" --ratio 0.1 \
  --out "$dir/sel.npy" --bins-out "$dir/bins.npy"
fails 2 "method 'adq' needs the training images" \
  "$dqbench" select --method adq --embeddings "$dir/none.npy" --labels "$dir/none.npy" --ratio 0.1 --out "$dir/sel.npy"
fails 2 "dqbench select: --keep-out $dir/sel.npy: the same file as --out" \
  "$dqbench" select --method random --embeddings "$dir/none.npy" --labels "$dir/none.npy" --ratio 0.1 \
  --out "$dir/sel.npy" --keep-out "$dir/sel.npy"
# A device is not a file to rename over (as root, --out /dev/null once turned /dev/null into a file).
fails 2 "dqbench select: --out /dev/null: not a regular file (a device, pipe or socket); give a file path" \
  "$dqbench" select --method random --embeddings "$dir/none.npy" --labels "$dir/none.npy" --ratio 0.1 --out /dev/null
[ -c /dev/null ] || { echo "FAIL: /dev/null is no longer a device"; exit 1; }
# A key given twice in a spec string is refused as in a YAML mapping (it used to be last-wins).
fails 2 "dqbench select: --method (key 'k'): duplicate key in spec 'bgfdq(k=3,k=5)'" \
  "$dqbench" select --method "bgfdq(k=3,k=5)" --embeddings "$dir/none.npy" --labels "$dir/none.npy" --ratio 0.1 \
  --out "$dir/sel.npy"
cat > "$dir/e.yaml" <<YAML
name: e
database: $dir/e.db
datasets:
  fm: {kind: fashion_mnist, path: $dir/absent}
grid:
  method: [random]
  ratio: [0.1]
YAML
fails 2 "error: unknown table format 'html'" "$dqbench" run "$dir/e.yaml" --format html
# run-cell names what is missing or wrong (it said "no cell with id ''" for both).
fails 2 "error: --index -1 is negative" "$dqbench" run-cell "$dir/e.yaml" --index -1
fails 2 "error: run-cell needs --index N or --cell-id ID" "$dqbench" run-cell "$dir/e.yaml"
# The runner gives both the index and the id: a file edited since it read it is refused, not run.
fails 2 "error: $dir/e.yaml: cell 0 is not cell 0123456789ab any more" \
  "$dqbench" run-cell "$dir/e.yaml" --index 0 --cell-id 0123456789abcdef
cat > "$dir/f.yaml" <<YAML
name: f
database: $dir/f.db
datasets:
  fm: {kind: fashion_mnist, path: $dir/absent}
grid:
  method: [bgfdq]
  ratio: [0.1]
YAML
fails 2 "error: $dir/f.yaml:6:12 (key 'method'): method 'bgfdq' works on embeddings" "$dqbench" run "$dir/f.yaml"
# ADQ reads pixels: on a features-only dataset run refuses before anything runs or is written.
cat > "$dir/g.yaml" <<YAML
name: g
database: $dir/run/g.db
cache_dir: $dir/run/cache
datasets:
  syn: {kind: synthetic_embeddings, classes: 2, per_class: 20, dim: 4}
extractor: {kind: none}
train: none
grid: {method: [adq], ratio: [0.5]}
YAML
fails 2 "$dir/g.yaml: method 'adq' needs the training images, but dataset 'syn' (kind synthetic_embeddings) provides features only" \
  "$dqbench" run "$dir/g.yaml"
[ ! -e "$dir/run/g.db" ] || { echo "FAIL: g.db was written"; exit 1; }
fails nonzero "--cache-dir excludes --no-cache" \
  "$dqbench" datasets inspect --no-cache --cache-dir "$dir/c" "synthetic_images(classes=2)"
# `dqbench table --experiment` with a name the database lacks: an error listing those it has, not an
# empty table with exit 0.
cat > "$dir/t.yaml" <<YAML
name: tiny
database: $dir/t.db
cache_dir: $dir/tc
datasets:
  syn: {kind: synthetic_embeddings, classes: 2, per_class: 10, dim: 4}
train: none
grid: {method: [random], ratio: [0.5]}
YAML
"$dqbench" run "$dir/t.yaml" > "$dir/out" 2>&1 || { cat "$dir/out"; echo "FAIL: the tiny run failed"; exit 1; }
fails 2 "$dir/t.db: no cells of experiment 'nosuch' (experiments here: tiny)" \
  "$dqbench" table "$dir/t.db" --experiment nosuch
"$dqbench" table "$dir/t.db" --experiment tiny > "$dir/out" 2>&1 || { cat "$dir/out"; echo "FAIL: table of tiny"; exit 1; }
for f in sel.npy bins.npy e.db f.db c; do
  [ ! -e "$dir/$f" ] || { echo "FAIL: $f was written"; exit 1; }
done
echo "ok"
