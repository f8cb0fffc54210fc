#pragma once
// Runs one cell of an experiment in the test's own process (no child process, no address-space cap),
// for tests of what a cell does and records; the cells are inserted first, as the runner does.
#include "harness/experiment.h"
#include "harness/run_cell.h"
#include "harness/store.h"

namespace dq::test {
inline CellStatus run_cell_here(const Experiment& ex, const CellConfig& cell, Store& store) {
  store.ensure_cells(ex.cells);
  CellRunOptions options;
  options.hard_memory_limit = false;
  return run_cell(ex, cell, store, options);
}
}  // namespace dq::test
