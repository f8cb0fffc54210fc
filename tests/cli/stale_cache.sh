#!/bin/sh
# The stale-cache experiment (issue 18): artefacts are keyed by what made them, and cells prove what
# they used. On tiny synthetic images with a proxy extractor:
#  1. a first run records, per cell, the content hash of every artefact it used; `dqbench verify`
#     passes and re-derives selections byte for byte from the cache;
#  2. the cached embeddings are rewritten in place: a forced re-run reads the new bytes (new content
#     hash) and rebuilds the KNN graphs and bins made from them instead of reusing the old ones
#     (GradCAM++ scores are made from the network, which did not change, and keep their key);
#  3. the extractor's training code "changes" (its code identity is salted, as an edit of
#     models/trainer.cpp would change it) and only the BGFDQ cells are re-run: the network is
#     retrained under a new key (what is downstream is rebuilt unless the new bytes equal the old);
#  4. that network's file is replaced in place by another network's bytes: the embeddings, KNN graphs
#     and GradCAM++ scores made from it are all rebuilt. verify then fails (two embeddings, two
#     extractor codes in one experiment) and the tables never pair or average the two runs' cells.
set -u
dqbench="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
db="$dir/stale.db"
cat > "$dir/stale.yaml" <<YAML
name: stale
database: $db
cache_dir: $dir/cache
memory_budget: 4GiB
threads: 2
datasets:
  tiny: {kind: synthetic_images, classes: 3, train_per_class: 40, test_per_class: 10, image_size: 16}
extractor: {kind: proxy, epochs: 1, batch_size: 32}
train: {epochs: 1, batch_size: 32, lr: 0.05, augment: none}
patches: {patch_size: 4, batch: 16}
grid:
  method: [random, dq, "bgfdq(k=5,theta=0.25)"]
  ratio: [0.25]
  seed: [0, 1]
YAML
q() { sqlite3 -readonly "$db" "$1"; }
where() { echo "from cell_artefacts a join cells c using(cell_id) where c.method_name='$1' and a.kind='$2'"; }
# The distinct content hashes and keys of an artefact kind among a method's cells, and whether some
# cell built it in this run (rather than every cell reading it from the cache).
hashes() { q "select group_concat(distinct sha256) $(where "$1" "$2")"; }
keys() { q "select group_concat(distinct key) $(where "$1" "$2")"; }
built() { [ "$(q "select min(from_cache) $(where "$1" "$2")")" = 0 ]; }
# The cells ran from this worktree, which may have uncommitted edits while it is being developed:
# verify's dirty-tree check is not what this test is about.
clean_tree() { sqlite3 "$db" "update provenance set git_dirty=0"; }

# 1. First run: every cell records its artefacts; verify passes and re-derives from the cache.
"$dqbench" run "$dir/stale.yaml" >"$dir/run1.log" 2>&1 || { cat "$dir/run1.log"; fail "first run"; }
for kind in dataset extractor_network embeddings selection; do
  n=$(q "select count(*) from cell_artefacts where kind='$kind'")
  [ "$n" = 6 ] || fail "$kind recorded by $n of 6 cells"
done
[ "$(q "select count(*) from cell_artefacts a join cells c using(cell_id) where c.method_name='bgfdq' and kind='knn_graph'")" = 2 ] || fail "knn_graph not recorded"
[ "$(q "select count(*) from cell_artefacts a join cells c using(cell_id) where c.method_name='dq' and kind='bins'")" = 2 ] || fail "bins not recorded"
[ "$(q "select count(*) from cell_artefacts where kind='patch_scores'")" = 4 ] || fail "patch_scores not recorded by the dropping cells"
[ "$(q "select count(distinct sha256) from cell_artefacts where kind='embeddings'")" = 1 ] || fail "one experiment, one embeddings"
clean_tree
"$dqbench" verify "$db" --sample 3 >"$dir/verify1.log" 2>&1 || { cat "$dir/verify1.log"; fail "verify after the first run"; }
grep -q "re-derive: 3 of 3 sampled DONE cells stored the same selection" "$dir/verify1.log" || { cat "$dir/verify1.log"; fail "no re-derivation"; }
emb1=$(hashes bgfdq embeddings); net1=$(hashes bgfdq extractor_network)
graph1=$(keys bgfdq knn_graph); bins1=$(keys dq bins); scores1=$(keys bgfdq patch_scores)

# 2. Rewrite the cached embeddings in place (same size, other values).
npy=$(ls "$dir"/cache/embeddings/*.npy)
[ "$(echo "$npy" | wc -l)" = 1 ] || fail "expected one embeddings file, got: $npy"
python3 - "$npy" <<'PY'
import struct, sys
path = sys.argv[1]
with open(path, "r+b") as f:
    data = bytearray(f.read())
    start = 10 + data[8] + 256 * data[9]
    values = struct.unpack_from("<%df" % ((len(data) - start) // 4), data, start)
    struct.pack_into("<%df" % len(values), data, start, *[v * 1.5 + 0.25 for v in values])
    f.seek(0)
    f.write(data)
PY
"$dqbench" run "$dir/stale.yaml" --force all >"$dir/run2.log" 2>&1 || { cat "$dir/run2.log"; fail "second run"; }
[ "$(hashes bgfdq embeddings)" != "$emb1" ] || fail "the rewritten embeddings kept their content hash"
built bgfdq embeddings && fail "the embeddings file should have been read from the cache, not recomputed"
[ "$(hashes bgfdq extractor_network)" = "$net1" ] || fail "the network changed although only the embeddings were rewritten"
for check in "bgfdq knn_graph $graph1" "dq bins $bins1"; do
  set -- $check
  built "$1" "$2" || fail "$2 built on the rewritten embeddings was served from the cache"
  [ "$(keys "$1" "$2")" != "$3" ] || fail "$2 kept its cache key although its embeddings changed"
done
# GradCAM++ scores are made from the network, not from the embeddings: the same network keeps them.
[ "$(keys bgfdq patch_scores)" = "$scores1" ] || fail "the patch scores' key changed although the network did not"

# 3. The extractor's training code changes (its identity salted, as an edit of models/trainer.cpp
# would change it); only the BGFDQ cells are re-run. The network is retrained under its new key. CPU
# training is deterministic, so its bytes may equal the old network's: then the embeddings made from
# them are, rightly, the same artefact (content addressing); otherwise everything downstream is new.
# Either way the two runs' cells ran other code and are never paired.
export_salt="extractor_network=edited-trainer"
DQ_CODE_IDENTITY_SALT=$export_salt "$dqbench" run "$dir/stale.yaml" --force method=bgfdq \
  >"$dir/run3.log" 2>&1 || { cat "$dir/run3.log"; fail "third run"; }
built bgfdq extractor_network || fail "the network was not retrained after its code identity changed"
[ "$(keys bgfdq extractor_network)" != "$(keys random extractor_network)" ] || fail "the network kept its key"
if [ "$(hashes bgfdq extractor_network)" = "$net1" ]; then
  built bgfdq embeddings && fail "embeddings of a byte-identical network were recomputed"
else
  for kind in embeddings knn_graph patch_scores; do built bgfdq "$kind" || fail "$kind reused after the network changed"; done
fi

# 4. The retrained network's file is replaced in place by another network's bytes (the issue's
# incident: a network retrained under one cache key). Everything made from it is rebuilt.
cat > "$dir/other.yaml" <<YAML
name: other
database: $dir/other.db
cache_dir: $dir/other-cache
threads: 2
datasets:
  tiny: {kind: synthetic_images, classes: 3, train_per_class: 40, test_per_class: 10, image_size: 16}
extractor: {kind: proxy, epochs: 1, batch_size: 32, seed: 7}
train: none
grid: {method: [random], ratio: [0.25], seed: [0]}
YAML
"$dqbench" run "$dir/other.yaml" >"$dir/other.log" 2>&1 || { cat "$dir/other.log"; fail "the other network"; }
net_key=$(keys bgfdq extractor_network)
cp "$(ls "$dir"/other-cache/embeddings/*.pt)" "$dir/cache/embeddings/$net_key.pt"
emb3=$(hashes bgfdq embeddings); graph3=$(keys bgfdq knn_graph); scores3=$(keys bgfdq patch_scores)
DQ_CODE_IDENTITY_SALT=$export_salt "$dqbench" run "$dir/stale.yaml" --force method=bgfdq \
  >"$dir/run4.log" 2>&1 || { cat "$dir/run4.log"; fail "fourth run"; }
[ "$(keys bgfdq extractor_network)" = "$net_key" ] || fail "the replaced network was not read under its key"
[ "$(q "select min(from_cache) $(where bgfdq extractor_network)")" = 1 ] || fail "the replaced network was retrained"
[ "$(hashes bgfdq embeddings)" != "$emb3" ] || fail "embeddings of the replaced network were reused"
for kind in embeddings knn_graph patch_scores; do built bgfdq "$kind" || fail "$kind reused after the network was replaced"; done
[ "$(keys bgfdq knn_graph)" != "$graph3" ] || fail "the KNN graph kept its key"
[ "$(keys bgfdq patch_scores)" != "$scores3" ] || fail "the GradCAM++ scores kept their key"
[ "$(q "select count(distinct sha256) from cell_artefacts where kind='embeddings'")" = 2 ] || fail "expected two embeddings in the database"
clean_tree
if "$dqbench" verify "$db" --sample 0 >"$dir/verify2.log" 2>&1; then cat "$dir/verify2.log"; fail "verify passed on mixed cells"; fi
grep -q "FAIL\] pairing: dataset tiny: the cells used 2 different embeddings" "$dir/verify2.log" || { cat "$dir/verify2.log"; fail "verify did not report the two embeddings"; }
grep -q "FAIL\] code: the cells ran 2 different versions of producer 'extractor_network'" "$dir/verify2.log" || { cat "$dir/verify2.log"; fail "verify did not report the two extractor codes"; }
# The tables never pair the two runs' cells: BGFDQ (new extractor) against Random and DQ (old).
"$dqbench" tables --db "$db" --print table1_main >"$dir/table1.md" 2>&1 || { cat "$dir/table1.md"; fail "tables"; }
grep -q "Left out of the pairs: .*seed 0: BGFDQ" "$dir/table1.md" || { cat "$dir/table1.md"; fail "a pair across the two runs was not left out"; }
grep -q "Mixed upstream: the cells of experiment \`stale\`" "$dir/table1.md" || { cat "$dir/table1.md"; fail "no mixed-upstream note"; }
if grep "^| BGFDQ" "$dir/table1.md" | grep -q "mixed upstream"; then fail "the BGFDQ row mixes upstreams although its seeds share one"; fi
"$dqbench" table "$db" >"$dir/table.txt" 2>&1 || fail "table"
grep -q "used different upstream artefacts" "$dir/table.txt" || { cat "$dir/table.txt"; fail "dqbench table did not split the rows"; }
echo "ok"
