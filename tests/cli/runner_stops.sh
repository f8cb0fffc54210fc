#!/bin/sh
# When cell processes fail before they can claim their cell (here: the experiment file is gone, as
# when a database cannot be written or the disk is full), the runner says so for each and stops after
# a few in a row, exit 2, instead of reporting "taken by another process" and starting every other cell
# of the matrix to the same end (the soak's full disk found it going through 174 cells in 8 seconds).
# Nothing is lost: the cells it did not run stay PENDING, and a re-run finishes them.
set -u
dq="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; cat "$dir/run.out"; exit 1; }
sh "$(dirname "$0")/soak_matrix.sh" "$dir/e.db" "$dir/cache" 3 > "$dir/e.yaml"
"$dq" run "$dir/e.yaml" > "$dir/run.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do  # the first cells done, then the file goes away under the runner
  [ "$(sqlite3 "$dir/e.db" "SELECT count(*) FROM cells WHERE status='DONE'" 2>/dev/null)" -ge 2 ] 2>/dev/null && break
  sleep 0.05
done
mv "$dir/e.yaml" "$dir/e.yaml.away"
wait $pid
code=$?
[ "$code" = 2 ] || fail "exit code $code, expected 2"
grep -q "failed before claiming its cell (exit code 2): error: $dir/e.yaml: cannot open the YAML file" "$dir/run.out" ||
  fail "no cell process was reported as failing before its claim"
grep -q "^stopped before the end: 3 cell processes in a row failed before claiming their cell" "$dir/run.out" ||
  fail "the runner did not stop"
grep -q "taken by another process" "$dir/run.out" && fail "a failed cell process was reported as taken by another"
started=$(grep -c "^\[[0-9]*/60\] syn .* s=[0-9]*\(, ETA .*\)\?$" "$dir/run.out")
done_cells=$(sqlite3 "$dir/e.db" "SELECT count(*) FROM cells WHERE status='DONE'")
[ "$started" -le $((done_cells + 3)) ] || fail "$started cell processes started for $done_cells DONE cells"
[ "$(sqlite3 "$dir/e.db" "SELECT count(*) FROM cells WHERE status NOT IN ('DONE', 'PENDING')")" = 0 ] ||
  fail "cells other than DONE and PENDING"
mv "$dir/e.yaml.away" "$dir/e.yaml"
"$dq" run "$dir/e.yaml" > "$dir/rerun.out" 2>&1 || { cat "$dir/rerun.out"; fail "the re-run exited $?"; }
[ "$(sqlite3 "$dir/e.db" "SELECT count(*) FROM cells WHERE status='DONE'")" = 60 ] || fail "the re-run did not finish"
echo "ok: stopped after $started cell processes ($done_cells DONE), exit 2; the re-run finished the 60 cells"
