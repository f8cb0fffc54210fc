#pragma once
// Runs an experiment's matrix: each cell that should run goes to a child process (`dqbench run-cell`),
// up to `jobs` at a time, each under a memory limit, its own timeout watchdog and a share of the
// threads. The child claims its cell in one transaction (harness/store.h), so any number of runners
// and Slurm tasks may share one database without running a cell twice. Children die with the runner
// (PR_SET_PDEATHSIG); a re-run redoes at once every cell whose process on this host is gone, and
// another host's cell once its heartbeat is stale. Exit codes: run_exit_code().
#include <iosfwd>
#include <string>
#include <vector>

#include "harness/experiment.h"
#include "harness/store.h"

namespace dq {

struct RunOptions {
  bool retry_failed = false;   // re-run FAILED and TIMEOUT cells (OOM is a result, never re-run)
  std::string force;           // re-run cells matching this filter (harness/cell_filter.h), even DONE
  int64_t stale_after_s = 120; // another host's RUNNING cell whose heartbeat is older was abandoned
  int64_t jobs = 1;            // cells at a time
  int64_t shard_index = 0, shard_count = 1;  // run only cells with index % shard_count == shard_index
  std::string self_exe;        // the dqbench binary to spawn for each cell
  std::string command_line;
  double kill_grace_s = 30;    // the runner's own backstop: SIGTERM at timeout + grace, SIGKILL 10 s later
};

// Resume rule without owner information (kept for callers that only know status and heartbeat).
bool should_run(const CellRow& row, bool retry_failed, int64_t stale_after_s);

struct RemainingCell {
  std::string label, cell_id;
  CellStatus status;
  std::string why;
};

struct RunSummary {
  int64_t total = 0, ran = 0, skipped_done = 0, skipped_failed = 0, skipped_running = 0;
  // Outcomes of the cells this runner ran.
  int64_t done = 0, oom = 0, timeout = 0, failed = 0;
  // The matrix after the run (every cell of this shard, whoever ran it).
  int64_t final_done = 0, final_oom = 0, final_failed = 0, final_timeout = 0, final_running = 0, final_pending = 0;
  std::vector<RemainingCell> remaining;  // cells not DONE/OOM after the run, with why
  // Why the runner stopped starting cells before the end ("" when it did not): several cell
  // processes in a row failed before they could claim their cell (a database that cannot be written,
  // a full disk, an experiment file gone), so every other cell would have failed the same way.
  std::string stopped;
};
// That many cell processes in a row failing before they claim their cell stop the runner.
constexpr int kStopAfterUnclaimedFailures = 3;

RunSummary run_experiment(const Experiment& ex, const RunOptions& options, std::ostream& out);

// Documented exit codes of `dqbench run` (harness/README.md):
//   0 every cell is DONE or OOM; 1 some cells are FAILED or TIMEOUT; 2 bad input or a database error
//   (nothing ran, or the runner stopped: RunSummary::stopped); 3 some cells are still RUNNING in
//   another live process or PENDING (re-run later).
constexpr int kExitComplete = 0, kExitFailedCells = 1, kExitBadInput = 2, kExitUnfinished = 3;
int run_exit_code(const RunSummary& summary);

}  // namespace dq
