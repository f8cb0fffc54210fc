#!/bin/bash
# The harness's cost per cell, two dqbench binaries side by side (issue 23): the same selection-only
# matrix of 20 x SEEDS cells (synthetic embeddings; random and bgfdq(k=5) at ten ratios, each cell a few
# milliseconds of selection) run by each binary in turn, ROUNDS times, alternating, with -j 1 and -j 2.
# Per run: wall time per cell, CPU per cell (the runner and its cell processes), and the harness's
# overhead per cell = (wall x jobs - the cells' recorded stage times) / cells: what is not a stage of a
# cell (process start, library loading, the YAML, claims and database writes, the runner's own work).
# Usage: [JOBS="1 2"] bench/cell_overhead.sh BEFORE_DQBENCH AFTER_DQBENCH [SEEDS=100] [ROUNDS=2]
set -u
before="$1" after="$2" seeds="${3:-100}" rounds="${4:-2}"
cells=$((20 * seeds))
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
yaml() {  # name
  sh "$(dirname "$0")/../tests/cli/soak_matrix.sh" "$dir/$1.db" "$dir/cache" "$seeds" > "$dir/$1.yaml"
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(uptime | sed 's/.*load average: //')"
printf "%-7s %-4s %6s %12s %12s %16s\n" binary jobs cells "wall/cell s" "cpu/cell s" "overhead/cell s"
for round in $(seq 1 "$rounds"); do
  for jobs in ${JOBS:-1 2}; do
    for which in before after; do
      bin=$([ $which = before ] && echo "$before" || echo "$after")
      name="${which}_j${jobs}_r${round}"
      yaml "$name"
      /usr/bin/time -f "%e %U %S" -o "$dir/$name.time" "$bin" run -j "$jobs" "$dir/$name.yaml" > "$dir/$name.out" 2>&1 ||
        { tail -5 "$dir/$name.out"; echo "FAIL: $which run"; exit 1; }
      read -r wall user sys < "$dir/$name.time"
      stages=$(sqlite3 "$dir/$name.db" "SELECT coalesce(sum(wall_s), 0) FROM stages WHERE instr(stage, '/') = 0")
      done_cells=$(sqlite3 "$dir/$name.db" "SELECT count(*) FROM cells WHERE status='DONE'")
      [ "$done_cells" = "$cells" ] || { echo "FAIL: $which: $done_cells of $cells DONE"; exit 1; }
      awk -v b="$which" -v j="$jobs" -v n="$cells" -v w="$wall" -v u="$user" -v s="$sys" -v st="$stages" \
        'BEGIN { printf "%-7s %-4s %6d %12.3f %12.3f %16.3f\n", b, j, n, w / n, (u + s) / n, (w * j - st) / n }'
    done
  done
done
