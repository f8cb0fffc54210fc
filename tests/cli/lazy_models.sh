#!/bin/sh
# dqbench loads LibTorch only when something needs a network (models/models_library.h): a selection-
# only matrix runs start to finish, runner and cell processes, without mapping libtorch; `dqbench
# models` does map it (through libdqbench_models.so) and lists the networks. The dynamic loader says
# which libraries each process opens (LD_DEBUG=files, inherited by the cell processes).
set -u
dq="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cat > "$dir/e.yaml" <<YAML
name: lazy
database: $dir/e.db
cache_dir: $dir/cache
datasets:
  syn: {kind: synthetic_embeddings, classes: 2, per_class: 20, dim: 4, clusters_per_class: 2}
extractor: {kind: none}
train: none
grid:
  method: [random, "bgfdq(k=3)"]
  ratio: [0.5]
YAML
LD_DEBUG=files "$dq" run "$dir/e.yaml" > "$dir/run.out" 2> "$dir/run.err" || { tail -20 "$dir/run.err"; fail "dqbench run"; }
[ "$(sqlite3 "$dir/e.db" "SELECT count(*) FROM cells WHERE status='DONE'")" = 2 ] || fail "the cells did not finish"
grep -q "file=.*libsqlite3" "$dir/run.err" || fail "LD_DEBUG=files said nothing: the check would prove nothing"
if grep -q "file=.*libtorch\|file=.*libdqbench_models" "$dir/run.err"; then
  grep "file=.*libtorch\|file=.*libdqbench_models" "$dir/run.err" | head -3
  fail "a selection-only run loaded LibTorch"
fi
LD_DEBUG=files "$dq" models > "$dir/models.out" 2> "$dir/models.err" || { tail -5 "$dir/models.err"; fail "dqbench models"; }
grep -q "file=.*libdqbench_models.so" "$dir/models.err" || fail "dqbench models did not load the models library"
grep -q "resnet18" "$dir/models.out" || fail "dqbench models listed no network"
echo "ok: a selection-only run never maps LibTorch; dqbench models loads it on demand"
