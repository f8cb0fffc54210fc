#pragma once
// Runs an experiment's matrix: each cell not already finished runs in a child process
// (`dqbench run-cell`) under a memory limit and a watchdog; the parent records what the child could
// not (a crash, a timeout) and always goes on to the next cell. Re-running the same command resumes.
#include <iosfwd>
#include <string>

#include "harness/experiment.h"
#include "harness/store.h"

namespace dq {

struct RunOptions {
  bool retry_failed = false;   // re-run FAILED and TIMEOUT cells (OOM is a result, never re-run)
  int64_t stale_after_s = 120; // a RUNNING cell whose heartbeat is older than this was abandoned
  std::string self_exe;        // the dqbench binary to spawn for each cell
  std::string command_line;
};

// Resume rule: should a cell in this state run now?
bool should_run(const CellRow& row, bool retry_failed, int64_t stale_after_s);

struct RunSummary {
  int64_t total = 0, ran = 0, skipped_done = 0, skipped_failed = 0, skipped_running = 0;
  int64_t done = 0, oom = 0, timeout = 0, failed = 0;
};

RunSummary run_experiment(const Experiment& ex, const RunOptions& options, std::ostream& out);

}  // namespace dq
