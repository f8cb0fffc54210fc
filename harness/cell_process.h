#pragma once
// `dqbench run-cell`: one cell in this process, as the runner's child or as a Slurm array task.
// It claims the cell (harness/store.h), arms its own timeout (harness/cell_watchdog.h), dies with
// its parent when it has one, and runs the pipeline (harness/run_cell.h).
#include <cstdint>
#include <string>

namespace dq {

struct CellProcessOptions {
  std::string experiment_file;
  std::string cell_id;          // or (both: the index finds the cell, the id is checked)
  int64_t index = -1;           // position in the expanded matrix
  std::string database;         // overrides the YAML's (a Slurm task's shard)
  std::string progress;
  std::string command_line;
  int64_t parent_pid = 0;       // die with this process (PR_SET_PDEATHSIG)
  bool retry_failed = false;
  bool hard_memory_limit = true;
};

// Exit codes: 0 the cell ended DONE or OOM, or was already finished (nothing to do); 1 it ended FAILED;
// 3 another live process holds it; kExitCellTimeout (124) its own timeout. Throws dq::Error for bad
// input or a database that cannot be written.
constexpr int kExitCellHeldElsewhere = 3;
int run_cell_process(const CellProcessOptions& options);

}  // namespace dq
