#pragma once
// One cell, in this process: dataset -> embed -> select -> patches -> metrics -> train+eval -> record.
// Every artefact it uses is recorded with its content hash (harness/cell_artefacts.h), and the code
// identities of the producers it ran go into its provenance.
// Each stage is timed and recorded in its own transaction; the cell is DONE only at the end. A
// declared allocation over the budget ends it as OOM; any other error as FAILED with its message.
#include <string>
#include <vector>

#include "harness/experiment.h"
#include "harness/store.h"

namespace dq {

struct CellRunOptions {
  std::string progress_prefix;  // e.g. "[3/12]"
  std::string command_line;
  bool hard_memory_limit = true;  // also cap the address space (RLIMIT_AS) at budget + headroom
  // `dqbench verify`: stop once the selection is stored (no metrics, no training), and take the
  // upstream artefacts (dataset, extractor network, embeddings) only as recorded here: one whose key
  // or content differs, or that is not in the cache, ends the cell FAILED with a message starting
  // "input <kind>:" before anything is trained or embedded.
  bool selection_only = false;
  std::vector<CellArtefact> expected_inputs;
};

// Runs the cell and records its outcome; returns the final status. Throws only if the database
// itself cannot be written.
CellStatus run_cell(const Experiment& ex, const CellConfig& cell, Store& store, const CellRunOptions& options);

}  // namespace dq
