#!/bin/sh
# Runs experiments/cpu/runtime.yaml so that every cell times its own work: DQ's bins and BGFDQ's KNN
# graph are cached per (embeddings, method parameters), not per seed, so a plain `dqbench run` would
# time them once and read them from the cache for the other seeds and for ADQ/DQAS-approx (which
# share DQ's bins). Each cell runs with the bin and KNN caches of the experiment's own cache folder
# cleared; the embeddings are shared with the other CPU experiments (cache/embeddings).
# Usage: sh scripts/run-cpu-runtime.sh [FIRST_INDEX]   (DQBENCH=path/to/dqbench for another build)
set -eu
repo="$(cd "$(dirname "$0")/.." && pwd)"
dqbench="${DQBENCH:-$repo/build/dqbench}"
cd "$repo"
exp=experiments/cpu/runtime.yaml
cache=cache/runtime
mkdir -p "$cache"
for shared in embeddings datasets; do
  mkdir -p "cache/$shared"
  [ -e "$cache/$shared" ] || ln -s "../$shared" "$cache/$shared"
done
count=$("$dqbench" cells "$exp" | wc -l)
i="${1:-0}"
while [ "$i" -lt "$count" ]; do
  rm -rf "$cache/dq_bins" "$cache/knn"
  "$dqbench" run-cell "$exp" --index "$i" --progress "[$((i + 1))/$count]"
  i=$((i + 1))
done
"$dqbench" table "$exp"
