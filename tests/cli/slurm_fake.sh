#!/bin/bash
# `dqbench slurm` against a fake sbatch on PATH that runs the array tasks and the merge job locally:
# cells already DONE are not submitted, every other cell runs in its own shard, the dependent merge
# job folds the shards into the experiment's database, and the result equals a plain local run.
set -u
dq="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
q() { sqlite3 "$1" "$2"; }

mkdir -p "$dir/bin"
cat > "$dir/bin/sbatch" <<'SH'
#!/bin/bash
# Fake sbatch: records its arguments, runs the script now (each array index in turn), prints a job id.
echo "sbatch $*" >> "$FAKE_SLURM_LOG"
script="${@: -1}"
id=$(( $(wc -l < "$FAKE_SLURM_LOG") + 1000 ))
spec=$(sed -n 's/^#SBATCH --array=\([^%]*\).*/\1/p' "$script")
if [ -n "$spec" ]; then
  for part in ${spec//,/ }; do
    lo=${part%-*}; hi=${part#*-}
    for i in $(seq "$lo" "$hi"); do
      SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_JOB_ID=$id bash "$script" >> "$FAKE_SLURM_LOG.tasks" 2>&1 || echo "task $i exited $?" >> "$FAKE_SLURM_LOG"
    done
  done
else
  bash "$script" >> "$FAKE_SLURM_LOG.tasks" 2>&1 || { echo "job exited $?" >> "$FAKE_SLURM_LOG"; exit 1; }
fi
echo "$id"
SH
chmod +x "$dir/bin/sbatch"
export FAKE_SLURM_LOG="$dir/sbatch.log"

write_yaml() {  # name database
  cat > "$dir/$1.yaml" <<YAML
name: slurmy
database: $2
cache_dir: $dir/cache
datasets:
  syn: {kind: synthetic_embeddings, classes: 2, per_class: 100, dim: 8, clusters_per_class: 4}
extractor: {kind: none}
train: none
grid: {method: [random, "bgfdq(k=5)"], ratio: [0.1, 0.3, 0.5]}
YAML
}
write_yaml ref "$dir/ref.db"
"$dq" run "$dir/ref.yaml" > "$dir/ref.out" 2>&1 || fail "reference run"
write_yaml exp "$dir/exp.db"
# Two of the six cells are already DONE: they must not be submitted.
"$dq" run "$dir/exp.yaml" --shard 1/3 > "$dir/pre.out" 2>&1 || fail "partial local run"
[ "$(q "$dir/exp.db" "SELECT count(*) FROM cells WHERE status='DONE'")" = 2 ] || fail "partial run: not 2 DONE"
PATH="$dir/bin:$PATH" "$dq" slurm "$dir/exp.yaml" --partition debug --time 00:10:00 --array-parallelism 2 \
  > "$dir/slurm.out" 2>&1 || { cat "$dir/slurm.out" "$FAKE_SLURM_LOG"*; fail "dqbench slurm"; }
cat "$dir/slurm.out"
grep -q "#SBATCH --array=1-2,4-5%2" "$dir/exp.db.slurm/array.sbatch" || { cat "$dir/exp.db.slurm/array.sbatch"; fail "array spec"; }
grep -q "#SBATCH --partition=debug" "$dir/exp.db.slurm/array.sbatch" || fail "partition"
grep -q "sbatch --parsable --dependency=afterany:1001 .*merge.sbatch" "$FAKE_SLURM_LOG" || { cat "$FAKE_SLURM_LOG"; fail "merge job not dependent on the array"; }
grep -q "exited" "$FAKE_SLURM_LOG" && { cat "$FAKE_SLURM_LOG" "$FAKE_SLURM_LOG.tasks"; fail "a task failed"; }
[ "$(ls "$dir/exp.db.slurm/shards" | wc -l)" = 4 ] || fail "expected 4 shards"
[ "$(q "$dir/exp.db" "SELECT count(*) FROM cells WHERE status='DONE'")" = 6 ] || { cat "$FAKE_SLURM_LOG.tasks"; fail "merged: not 6 DONE"; }
[ "$(q "$dir/exp.db" "SELECT cell_id, sha256 FROM selections ORDER BY cell_id")" = \
  "$(q "$dir/ref.db" "SELECT cell_id, sha256 FROM selections ORDER BY cell_id")" ] || fail "selections differ"
# Everything is DONE: a second submission sends nothing.
PATH="$dir/bin:$PATH" "$dq" slurm "$dir/exp.yaml" --partition debug > "$dir/slurm2.out" 2>&1 || fail "second submission"
grep -q "0 to submit" "$dir/slurm2.out" || { cat "$dir/slurm2.out"; fail "DONE cells were submitted again"; }
echo "ok"
