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
# ADQ reads pixels: on a features-only dataset the cell stops before its embeddings are computed.
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
fails 1 "-> FAILED: $dir/g.yaml: method 'adq' needs the training images, but dataset 'syn' has features only" \
  "$dqbench" run "$dir/g.yaml"
fails nonzero "--cache-dir excludes --no-cache" \
  "$dqbench" datasets inspect --no-cache --cache-dir "$dir/c" "synthetic_images(classes=2)"
for f in sel.npy bins.npy e.db f.db c; do
  [ ! -e "$dir/$f" ] || { echo "FAIL: $f was written"; exit 1; }
done
echo "ok"
