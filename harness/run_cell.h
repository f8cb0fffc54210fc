#pragma once
// One cell, in this process: dataset -> embed -> select -> train+eval -> metrics -> record.
// Each stage is timed and recorded in its own transaction; the cell is DONE only at the end. A
// declared allocation over the budget ends it as OOM; any other error as FAILED with its message.
#include <string>

#include "harness/experiment.h"
#include "harness/store.h"

namespace dq {

struct CellRunOptions {
  std::string progress_prefix;  // e.g. "[3/12]"
  std::string command_line;
  bool hard_memory_limit = true;  // also cap the address space (RLIMIT_AS) at budget + headroom
};

// Runs the cell and records its outcome; returns the final status. Throws only if the database
// itself cannot be written.
CellStatus run_cell(const Experiment& ex, const CellConfig& cell, Store& store, const CellRunOptions& options);

}  // namespace dq
