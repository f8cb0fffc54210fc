#include "harness/cell_process.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <iostream>

#include "core/error.h"
#include "harness/cell_watchdog.h"
#include "harness/experiment.h"
#include "harness/preflight.h"
#include "harness/run_cell.h"
#include "harness/store.h"

namespace dq {

int run_cell_process(const CellProcessOptions& o) {
  if (o.parent_pid > 0) {
    // Die with the runner: a cell left running by a killed runner would hold its row and its memory.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != o.parent_pid) return 2;  // the runner died before we could ask
  }
  Experiment ex = load_experiment(o.experiment_file);
  if (!o.database.empty()) ex.database = o.database;
  const CellConfig* cell = nullptr;
  if (o.index >= 0) {
    if (o.index >= static_cast<int64_t>(ex.cells.size()))
      throw Error(fmt::format("--index {} is outside the matrix of {} cells", o.index, ex.cells.size()));
    cell = &ex.cells[static_cast<size_t>(o.index)];
    // The runner names both: the index finds the cell without hashing the whole matrix, the id
    // catches a file edited since the runner read it.
    if (!o.cell_id.empty() && cell->id() != o.cell_id)
      throw Error(fmt::format("{}: cell {} is not cell {} any more (the file changed since the run started?)",
                              o.experiment_file, o.index, o.cell_id.substr(0, 12)));
  } else {
    for (const auto& c : ex.cells)
      if (c.id() == o.cell_id) cell = &c;
    if (!cell) throw Error(fmt::format("{}: no cell with id '{}'", o.experiment_file, o.cell_id));
  }
  Store store(ex.database);
  // A runner (or an earlier task) records the experiment before starting cells; hashing a matrix of
  // thousands of cells again in every cell process cost more than the cell.
  if (!store.experiment_recorded(ex)) store.record_experiment(ex);
  ClaimPolicy policy;
  policy.retry_failed = o.retry_failed;
  const ClaimResult claim = store.claim_cell(*cell, policy);
  const std::string prefix = o.progress.empty() ? "" : o.progress + " ";
  if (!claim.claimed) {
    std::cerr << prefix << cell->label() << ": not run: " << claim.reason << std::endl;
    return claim.row.status == CellStatus::Running ? kExitCellHeldElsewhere
           : claim.row.status == CellStatus::Failed || claim.row.status == CellStatus::Timeout ? 1
                                                                                                : 0;
  }
  if (claim.row.status == CellStatus::Running)
    std::cerr << prefix << "redoing " << cell->label() << ": " << claim.reason << std::endl;
  ex.cache_dir = preflight_cache_dir(ex.cache_dir, std::cerr);
  CellWatchdog watchdog(ex.database, cell->id(), ex.timeout_s);
  CellRunOptions options;
  options.progress_prefix = o.progress;
  options.command_line = o.command_line;
  options.hard_memory_limit = o.hard_memory_limit;
  const CellStatus status = run_cell(ex, *cell, store, options);
  return status == CellStatus::Done || status == CellStatus::Oom ? 0 : 1;
}

}  // namespace dq
