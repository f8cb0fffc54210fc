#!/bin/sh
# A bgfdq K sweep listed smallest K first still builds one exact KNN graph per class, at the sweep's
# largest K: the first cell records knn_cache_hit 0 and knn_graph_k 40, the others are served from it,
# and the cache holds one k40.bin per class and nothing else.
set -u
dqbench="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/ksweep.yaml" <<YAML
name: ksweep_check
database: $dir/k.db
cache_dir: $dir/cache
datasets:
  syn: {kind: synthetic_embeddings, classes: 3, per_class: 600, dim: 16, seed: 1}
extractor: {kind: none}
train: none
grid:
  method: ["bgfdq(k=5)", "bgfdq(k=10)", "bgfdq(k=40)", "bgfdq(k=20)"]
  ratio: [0.1]
  seed: [0]
YAML
"$dqbench" run "$dir/ksweep.yaml" >"$dir/log" 2>&1 || { cat "$dir/log"; echo "FAIL: the sweep did not run"; exit 1; }
got=$(sqlite3 -readonly "$dir/k.db" "select c.method_name || ':' || (select value from metrics where cell_id=c.cell_id and name='diag_knn_cache_hit_mean') || ':' || (select value from metrics where cell_id=c.cell_id and name='diag_knn_graph_k_mean') from cells c order by c.rowid" | tr '\n' ' ')
want="bgfdq:0.0:40.0 bgfdq:1.0:40.0 bgfdq:1.0:40.0 bgfdq:1.0:40.0 "
[ "$got" = "$want" ] || { echo "FAIL: cache hits / graph k per cell in run order: got '$got', want '$want'"; exit 1; }
files=$(find "$dir/cache/knn" -type f | sed 's|.*/||' | sort | tr '\n' ' ')
[ "$files" = "k40.bin k40.bin k40.bin " ] || { echo "FAIL: cached graphs: '$files' (want one k40.bin per class)"; exit 1; }
echo "ok"
