#!/bin/bash
# The long soak (issue 23), through the real binary: a selection-only matrix of 20 x SEEDS cells of a
# fraction of a second each (synthetic embeddings; random and bgfdq(k=5) at ten ratios) run with -j 2
#  1. uninterrupted, on the ordinary disk: the reference (its wall time per cell is printed);
#  2. on a small tmpfs of its own, with the runner SIGKILLed KILLS times at random moments spread over
#     the run, re-run each
#     time; half-way a second runner is started against the same database beside the first; once, the
#     tmpfs is filled up while cells run, and freed again after the runner gave up;
#  3. finished (--retry-failed: cells that failed on the full disk run again).
# At the end every cell is DONE exactly once (one row in each per-cell table), the selections are
# byte-identical to the reference's (ids and keep fractions), nothing half-written counts as done (a
# DONE cell has its selection, stages, metrics and provenance), no cell process outlived a runner, and
# the database passes SQLite's integrity check.
# Usage: soak.sh DQBENCH [SEEDS=100] [KILLS=20]. Needs root for the tmpfs (without it the full disk is
# skipped, said in the output). Prints the figures; exits non-zero on the first failed check.
set -u
dq="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
seeds="${2:-100}"
kills="${3:-20}"
cells=$((20 * seeds))
dir=$(mktemp -d)
mnt="$dir/disk"
mkdir -p "$mnt"
mounted=0
runners=""
cleanup() {
  for p in $runners; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ $mounted = 1 ] && umount "$mnt"
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }
q() { sqlite3 -cmd ".timeout 60000" "$1" "$2"; }

write_yaml() {  # yaml database cache
  sh "$(dirname "$0")/soak_matrix.sh" "$2" "$3" "$seeds" > "$1"
}
# The selections as bytes: ids and keep fractions of every cell.
selections() { q "$1" "SELECT cell_id, count, sha256, hex(ids), hex(keep) FROM selections ORDER BY cell_id"; }
orphans() { pgrep -f "run-cell $dir/soak.yaml" | wc -l; }

# 1. reference
write_yaml "$dir/ref.yaml" "$dir/ref.db" "$dir/ref-cache"
t0=$(now)
"$dq" run -j 2 "$dir/ref.yaml" > "$dir/ref.out" 2>&1 || { tail -20 "$dir/ref.out"; fail "reference run exited $?"; }
t_ref=$(since "$t0")
[ "$(q "$dir/ref.db" "SELECT count(*) FROM cells WHERE status='DONE'")" = "$cells" ] || fail "reference: not $cells DONE"
echo "reference: $cells cells DONE in ${t_ref}s with -j 2 ($(awk -v t="$t_ref" -v n="$cells" 'BEGIN { printf "%.3f", t / n }') s per cell of wall time)"

# 2. kills, a second runner, a full disk
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=$((16 + cells / 20))m tmpfs "$mnt" 2> "$dir/mount.err"; then
  mounted=1
else
  echo "note: no tmpfs could be mounted ($(cat "$dir/mount.err" 2>/dev/null; [ "$(id -u)" = 0 ] || echo "not root")): the full-disk phase is skipped"
fi
write_yaml "$dir/soak.yaml" "$mnt/soak.db" "$mnt/cache"
db="$mnt/soak.db"
second_at=$(( (kills + 1) / 2 ))
fill_at=$(( kills * 3 / 4 ))
[ "$fill_at" -lt 1 ] && fill_at=1
second=""
full_disk_failed=0
t0=$(now)
for k in $(seq 1 "$kills"); do
  "$dq" run -j 2 "$dir/soak.yaml" > "$dir/kill$k.out" 2>&1 &
  pid=$!
  runners="$runners $pid"
  if [ "$k" = "$second_at" ]; then
    "$dq" run -j 2 "$dir/soak.yaml" > "$dir/second.out" 2>&1 &
    second=$!
    runners="$runners $second"
  fi
  # Until a cell of this runner is RUNNING, then a random moment up to 2 s later.
  for _ in $(seq 1 400); do
    [ "$(q "$db" "SELECT count(*) FROM cells WHERE status='RUNNING'" 2>/dev/null)" -gt 0 ] 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ "$k" = "$fill_at" ] && [ $mounted = 1 ]; then
    # Fill the disk while cells run, wait for the runner to give up (or 30 s), then free it again.
    dd if=/dev/zero of="$mnt/filler" bs=64k 2> /dev/null
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$mnt/filler"
    # A runner whose cells cannot be written stops (harness/runner.h, kStopAfterUnclaimedFailures) or
    # fails on its own write; it does not go on starting cells that cannot run.
    kill -0 "$pid" 2>/dev/null && fail "full disk: the runner was still running 30 s later"
    echo "full disk: the runner stopped: $(grep -m1 -o "^stopped before the end: .*\|error: .*" "$dir/kill$k.out" | cut -c1-160)"
    full_disk_failed=$(q "$db" "SELECT count(*) FROM cells WHERE status='FAILED'")
  else  # spread over the run: the kills' waits add up to about 0.8 of the reference's time
    sleep "$(awk -v s="$RANDOM" -v t="$t_ref" -v k="$kills" 'BEGIN { srand(s); printf "%.2f", rand() * 1.6 * t / k }')"
  fi
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if [ -n "$second" ] && [ "$k" -gt "$second_at" ]; then  # the second runner dies one round later
    kill -9 "$second" 2>/dev/null
    wait "$second" 2>/dev/null
    second=""
  fi
  # The killed runner's children die with it (PR_SET_PDEATHSIG), the second runner's keep running.
  if [ -z "$second" ]; then
    for _ in $(seq 1 50); do [ "$(orphans)" = 0 ] && break; sleep 0.1; done
    [ "$(orphans)" = 0 ] || fail "kill $k: $(orphans) cell processes outlived the runner"
  fi
  echo "kill $k: $(q "$db" "SELECT count(*) FROM cells WHERE status='DONE'" 2>/dev/null || echo ?) of $cells DONE, $(q "$db" "SELECT count(*) FROM cells WHERE status='RUNNING'" 2>/dev/null || echo ?) RUNNING left by the killed runner"
done
[ -n "$second" ] && { kill -9 "$second" 2>/dev/null; wait "$second" 2>/dev/null; }
[ "$(q "$db" "PRAGMA integrity_check")" = ok ] || fail "the database is damaged after the kills"

# 3. finish
"$dq" run -j 2 --retry-failed "$dir/soak.yaml" > "$dir/final.out" 2>&1 ||
  { tail -20 "$dir/final.out"; fail "the finishing run exited $?"; }
t_soak=$(since "$t0")
[ "$(q "$db" "SELECT count(*) FROM cells")" = "$cells" ] || fail "$(q "$db" "SELECT count(*) FROM cells") cell rows, expected $cells"
[ "$(q "$db" "SELECT count(*) FROM cells WHERE status='DONE'")" = "$cells" ] || fail "not every cell is DONE"
dup=$(q "$db" "SELECT (SELECT count(*) - count(DISTINCT cell_id) FROM selections) + (SELECT count(*) - count(DISTINCT cell_id) FROM provenance) + (SELECT count(*) - count(DISTINCT cell_id || stage) FROM stages) + (SELECT count(*) - count(DISTINCT cell_id || name) FROM metrics)")
[ "$dup" = 0 ] || fail "$dup duplicated rows"
half=$(q "$db" "SELECT count(*) FROM cells c WHERE status='DONE' AND (
  NOT EXISTS (SELECT 1 FROM selections s WHERE s.cell_id=c.cell_id) OR
  NOT EXISTS (SELECT 1 FROM provenance p WHERE p.cell_id=c.cell_id) OR
  NOT EXISTS (SELECT 1 FROM stages t WHERE t.cell_id=c.cell_id AND t.stage='select') OR
  NOT EXISTS (SELECT 1 FROM metrics m JOIN selections s USING(cell_id) WHERE m.cell_id=c.cell_id AND
              m.name='selected_samples' AND m.value=s.count))")
[ "$half" = 0 ] || fail "$half DONE cells miss part of their results"
selections "$dir/ref.db" > "$dir/ref.sel"
selections "$db" > "$dir/soak.sel"
cmp -s "$dir/ref.sel" "$dir/soak.sel" || fail "selections differ from the uninterrupted run"
[ "$(q "$db" "PRAGMA integrity_check")" = ok ] || fail "the database is damaged"
attempts=$(q "$db" "SELECT sum(attempts) FROM cells")
redone=$(q "$db" "SELECT count(*) FROM cells WHERE attempts > 1")
echo "soak: $cells cells DONE exactly once after $kills kills, a second runner and $([ $mounted = 1 ] && echo "a full disk ($full_disk_failed cells FAILED on it, re-run)" || echo "no full disk"); selections byte-identical to the reference; $attempts attempts ($redone cells redone); ${t_soak}s"
echo "ok"
