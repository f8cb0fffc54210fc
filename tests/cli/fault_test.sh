#!/bin/bash
# The harness's acceptance fault test (issue 9), through the real binary:
#  1. a 20-cell quick matrix (synthetic embeddings, train: none) run uninterrupted (-j 1), the reference;
#  2. the same matrix with the runner SIGKILLed at random moments KILLS times, re-run each time, then
#     finished: exactly 20 DONE, no duplicated rows, selections byte-identical to the reference, no
#     cell left to a heartbeat wait (the re-run redoes killed cells at once);
#  3. -j 2, and two runners started together on one database: every cell exactly once (attempts = 1);
#  4. four shards (--shard K/4 --db) merged: the same cells and selections as the reference, twice;
#  5. a cell over its memory budget ends OOM with the bytes asked, one past its timeout TIMEOUT, one
#     that throws FAILED with its message; the others DONE; `run` exits 1 and lists them.
# Usage: fault_test.sh DQBENCH [KILLS]. Prints the figures; exits non-zero on the first failed check.
set -u
dq="$1"
kills="${2:-3}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
now() { date +%s.%N; }
q() { sqlite3 "$1" "$2"; }

write_yaml() {  # name database
  cat > "$dir/$1.yaml" <<YAML
name: faults
database: $2
cache_dir: $dir/cache
timeout: 60s
threads: 1
datasets:
  syn: {kind: synthetic_embeddings, classes: 2, per_class: 2000, dim: 32, clusters_per_class: 8}
extractor: {kind: none}
train: none
grid:
  method: [random, "bgfdq(k=5)"]
  ratio: [0.1, 0.2, 0.3, 0.4, 0.5]
  seed: [0, 1]
YAML
}
hashes() { q "$1" "SELECT cell_id || ' ' || sha256 FROM selections ORDER BY cell_id"; }
check_complete() {  # db label
  local done dup
  done=$(q "$1" "SELECT count(*) FROM cells WHERE status='DONE'")
  [ "$done" = 20 ] || fail "$2: $done DONE, expected 20"
  dup=$(q "$1" "SELECT (SELECT count(*) - count(DISTINCT cell_id) FROM cells) + (SELECT count(*) - count(DISTINCT cell_id) FROM selections) + (SELECT count(*) - count(DISTINCT cell_id) FROM provenance) + (SELECT count(*) - count(DISTINCT cell_id || stage) FROM stages) + (SELECT count(*) - count(DISTINCT cell_id || name) FROM metrics)")
  [ "$dup" = 0 ] || fail "$2: $dup duplicated rows"
  [ "$(hashes "$1")" = "$(hashes "$dir/ref.db")" ] || fail "$2: selections differ from the uninterrupted run"
}

# 1. reference
write_yaml ref "$dir/ref.db"
t0=$(now)
"$dq" run "$dir/ref.yaml" > "$dir/ref.out" 2>&1 || { cat "$dir/ref.out"; fail "reference run exited $?"; }
t_j1=$(awk -v a="$(now)" -v b="$t0" "BEGIN { printf \"%.1f\", a - b }")
[ "$(q "$dir/ref.db" "SELECT count(*) FROM cells WHERE status='DONE'")" = 20 ] || fail "reference: not 20 DONE"

# 2. kills
write_yaml killed "$dir/killed.db"
lost_before=0
for k in $(seq 1 "$kills"); do
  "$dq" run "$dir/killed.yaml" > "$dir/kill$k.out" 2>&1 &
  pid=$!
  # A random moment while a cell is RUNNING (its process has claimed it and works): wait for a claimed
  # row, then up to 0.2 s more.
  for _ in $(seq 1 600); do
    [ "$(q "$dir/killed.db" "SELECT count(*) FROM cells WHERE status='RUNNING'" 2>/dev/null)" -gt 0 ] 2>/dev/null && break
    sleep 0.05
  done
  sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", rand() * 0.2 }')"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  # The runner's children die with it (SIGKILL from PR_SET_PDEATHSIG; allow a moment to be reaped).
  for _ in $(seq 1 30); do
    left=$(pgrep -f "run-cell $dir/killed.yaml" | wc -l)
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  [ "$left" = 0 ] || fail "kill $k: $left cell processes outlived the runner"
  running=$(q "$dir/killed.db" "SELECT count(*) FROM cells WHERE status='RUNNING'" 2>/dev/null || echo 0)
  echo "kill $k: $(q "$dir/killed.db" "SELECT count(*) FROM cells WHERE status='DONE'" 2>/dev/null || echo 0) DONE, $running RUNNING left by the killed runner"
done
t0=$(now)
"$dq" run "$dir/killed.yaml" > "$dir/final.out" 2>&1 || { cat "$dir/final.out"; fail "the run after the kills exited $?"; }
t_resume=$(awk -v a="$(now)" -v b="$t0" "BEGIN { printf \"%.1f\", a - b }")
grep -q "RUNNING in\|heartbeat" "$dir/final.out" && { cat "$dir/final.out"; fail "the re-run waited for or skipped a RUNNING cell"; }
redone=$(grep -c "^redo .*is gone" "$dir/final.out")
check_complete "$dir/killed.db" "after $kills kills"
attempts=$(q "$dir/killed.db" "SELECT sum(attempts) FROM cells")
echo "after $kills kills: 20 DONE, 0 duplicated, 0 lost, selections identical; $attempts attempts for 20 cells; the last re-run redid $redone killed cells at once; resume took ${t_resume}s"

# 3. -j 2 and two concurrent runners
write_yaml j2 "$dir/j2.db"
t0=$(now)
"$dq" run -j 2 "$dir/j2.yaml" > "$dir/j2.out" 2>&1 || { cat "$dir/j2.out"; fail "-j 2 exited $?"; }
t_j2=$(awk -v a="$(now)" -v b="$t0" "BEGIN { printf \"%.1f\", a - b }")
check_complete "$dir/j2.db" "-j 2"
[ "$(q "$dir/j2.db" "SELECT sum(attempts) FROM cells")" = 20 ] || fail "-j 2 ran a cell twice"

write_yaml conc "$dir/conc.db"
"$dq" run "$dir/conc.yaml" > "$dir/conc1.out" 2>&1 &
p1=$!
"$dq" run "$dir/conc.yaml" > "$dir/conc2.out" 2>&1 &
p2=$!
wait $p1; c1=$?
wait $p2; c2=$?
grep -qi "locked" "$dir/conc1.out" "$dir/conc2.out" && fail "database is locked"
check_complete "$dir/conc.db" "two runners"
[ "$(q "$dir/conc.db" "SELECT sum(attempts) FROM cells")" = 20 ] || fail "two runners ran a cell twice"
# Each exits 0, or 3 if it ended while the other still ran a cell (documented: "still RUNNING elsewhere").
case "$c1$c2" in 00|03|30) ;; *) fail "two runners: exit codes $c1 $c2";; esac
ran1=$(grep -c "^\[[0-9]*/[0-9]*\] .* r=[0-9.]* s=[0-9]*\(, ETA .*\)\?$" "$dir/conc1.out")
ran2=$(grep -c "^\[[0-9]*/[0-9]*\] .* r=[0-9.]* s=[0-9]*\(, ETA .*\)\?$" "$dir/conc2.out")
echo "two runners: 20 DONE, each cell once ($ran1 + $ran2 cell processes started; a losing claim runs nothing)"

# 4. shards and merge
write_yaml shard "$dir/unused.db"
for k in 1 2 3 4; do
  "$dq" run "$dir/shard.yaml" --shard "$k/4" --db "$dir/shard$k.db" > "$dir/shard$k.out" 2>&1 || fail "shard $k exited $?"
done
"$dq" merge "$dir/merged.db" "$dir"/shard[1-4].db > "$dir/merge1.out" 2>&1 || { cat "$dir/merge1.out"; fail "merge"; }
check_complete "$dir/merged.db" "merge of 4 shards"
dump() { q "$1" "SELECT cell_id, status, finished, attempts FROM cells ORDER BY cell_id; SELECT * FROM stages ORDER BY cell_id, stage; SELECT * FROM metrics ORDER BY cell_id, name; SELECT cell_id, sha256 FROM selections ORDER BY cell_id"; }
first=$(dump "$dir/merged.db")
"$dq" merge "$dir/merged.db" "$dir"/shard[1-4].db > "$dir/merge2.out" 2>&1 || fail "second merge"
[ "$(dump "$dir/merged.db")" = "$first" ] || fail "merging twice changed the database"
echo "merge of 4 shards: 20 DONE, selections identical to the single run, unchanged by a second merge"

# 5. OOM, TIMEOUT, FAILED
mkdir -p "$dir/broken"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  echo "not a gzip file" > "$dir/broken/$f"
done
cat > "$dir/bad.yaml" <<YAML
name: outcomes
database: $dir/bad.db
cache_dir: $dir/cache
timeout: 8s
memory_budget: 300MiB
threads: 1
datasets:
  syn: {kind: synthetic_embeddings, classes: 1, per_class: 1000, dim: 8, clusters_per_class: 4}
  big: {kind: synthetic_embeddings, classes: 1, per_class: 10000, dim: 8, clusters_per_class: 4}
  slow: {kind: synthetic_embeddings, classes: 1, per_class: 8000, dim: 8, clusters_per_class: 4}
  broken: {kind: fashion_mnist, path: $dir/broken}
extractor: {kind: none}
train: none
zip:
  dataset: [syn, big, slow, broken]
  method: [random, "dq(mode=memo)", "dq(mode=naive)", random]
  ratio: [0.5, 0.5, 0.5, 0.5]
YAML
"$dq" run "$dir/bad.yaml" > "$dir/bad.out" 2>&1
code=$?
[ "$code" = 1 ] || { cat "$dir/bad.out"; fail "outcomes: exit code $code, expected 1 (FAILED/TIMEOUT cells)"; }
outcome() { q "$dir/bad.db" "SELECT status FROM cells WHERE dataset = '$1'"; }
[ "$(outcome syn)" = DONE ] || { cat "$dir/bad.out"; fail "random: $(outcome syn)"; }
[ "$(outcome big)" = OOM ] || { cat "$dir/bad.out"; fail "dense dq over 300 MiB: $(outcome big)"; }
asked=$(q "$dir/bad.db" "SELECT value FROM metrics m JOIN cells c USING(cell_id) WHERE c.dataset='big' AND name='oom_requested_bytes'")
[ "${asked%.*}" = 400000000 ] || fail "OOM without the bytes asked ($asked)"
[ "$(outcome slow)" = TIMEOUT ] || { cat "$dir/bad.out"; fail "slow cell: $(outcome slow), expected TIMEOUT"; }
failed=$(q "$dir/bad.db" "SELECT status || ': ' || error FROM cells WHERE dataset='broken'")
[[ "$failed" == FAILED:* ]] || { cat "$dir/bad.out"; fail "a throwing cell: $failed"; }
grep -q "matrix incomplete" "$dir/bad.out" || fail "run did not list the incomplete cells"
echo "outcomes: DONE, OOM (asked ${asked%.*} bytes of 300 MiB), TIMEOUT, ${failed:0:120}"

echo "figures: 20 cells, $kills kills, 0 lost, 0 duplicated; wall -j 1 ${t_j1}s, -j 2 ${t_j2}s ($(nproc) cores)"
echo "ok"
