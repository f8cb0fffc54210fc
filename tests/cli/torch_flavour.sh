#!/bin/sh
# The LibTorch flavour (README "GPU") as a user meets it: `dqbench --version` names the LibTorch and
# whether CUDA is compiled in; `device: cuda` without CUDA or without a GPU, and a missing TorchScript
# file, stop `dqbench run` before any cell runs, naming the key (and the file), with nothing written.
set -u
dqbench="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$dqbench" --version > "$dir/version" 2>&1 || { cat "$dir/version"; echo "FAIL: --version exited non-zero"; exit 1; }
cat "$dir/version"
grep -Eq '^dqbench, LibTorch [0-9]+\.[0-9]+\.[0-9]+ \((CPU only|CUDA [0-9]+\.[0-9]+)\)$' "$dir/version" ||
  { echo "FAIL: --version does not name the LibTorch and its CUDA"; exit 1; }
fails() {  # $1 = expected message, then the command; it must exit non-zero and write no database
  want=$1
  shift
  "$@" > "$dir/out" 2>&1
  code=$?
  cat "$dir/out"
  [ "$code" -ne 0 ] || { echo "FAIL: exit code was 0: $*"; exit 1; }
  grep -qF -- "$want" "$dir/out" || { echo "FAIL: message lacks '$want': $*"; exit 1; }
  [ ! -e "$dir/e.db" ] || { echo "FAIL: a database was written: $*"; exit 1; }
}
head="name: e
database: $dir/e.db
datasets:
  syn: {kind: synthetic_images, classes: 2, train_per_class: 4, test_per_class: 2, image_size: 8}
grid: {method: [random], ratio: [0.5]}"
if grep -q "(CPU only)" "$dir/version"; then
  printf '%s\ntrain: {epochs: 1, device: cuda}\n' "$head" > "$dir/e.yaml"
  fails "(key 'train.device'): device 'cuda:0' requested, but this dqbench's LibTorch" "$dqbench" run "$dir/e.yaml"
  grep -qF "has no CUDA compiled in" "$dir/out" || { echo "FAIL: the reason is not given"; exit 1; }
else  # the pip flavour, CUDA compiled in: refused when no GPU is visible (CUDA_VISIBLE_DEVICES empty hides them all)
  printf '%s\ntrain: {epochs: 1, device: cuda}\n' "$head" > "$dir/e.yaml"
  fails "(key 'train.device'): device 'cuda:0' requested, but no CUDA GPU is visible" \
    env CUDA_VISIBLE_DEVICES= "$dqbench" run "$dir/e.yaml"
fi
printf '%s\nextractor: {kind: torchscript, path: %s/missing_extractor.pt}\ntrain: none\n' "$head" "$dir" > "$dir/e.yaml"
fails "(key 'path'): the TorchScript model '$dir/missing_extractor.pt' is not a file" "$dqbench" run "$dir/e.yaml"
printf '%s\nextractor: {kind: proxy, epochs: 1}\ntrain: none\npatches: {reconstruct: mae, mae_path: %s/missing_mae.pt}\n' \
  "$head" "$dir" > "$dir/e.yaml"
fails "(key 'patches.mae_path'): TorchScript file '$dir/missing_mae.pt' does not exist" "$dqbench" run "$dir/e.yaml"
echo "ok: --version names the LibTorch; cuda and missing TorchScript files are refused before any cell"
