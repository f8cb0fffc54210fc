#pragma once
// `dqbench status` (where a matrix stands: counts per status, running cells with their stage and
// age, the slowest cells, failed cells with their messages) and `dqbench run --dry-run` (the cells,
// their status and each cell's estimated peak memory, marking those that will end OOM).
#include <cstdint>
#include <string>

#include "harness/experiment.h"
#include "harness/store.h"

namespace dq {

std::string render_status(Store& store, const std::string& experiment, int64_t slowest = 5);

// The memory a cell's selection declares to its budget at its peak (the largest class), from the
// matrix alone: the method's own model (MethodInfo::peak_bytes: dense GraphCut 4*M^2 bytes + the M x d
// workspace, streaming GraphCut O(M), BGFDQ's KNN lists M*k*8 + one distance tile + a padded copy of
// the class, ...) at the sizes its dataset declares before loading (DatasetLoaderInfo::sizes). `bytes`
// < 0: unknown (the dataset declares no sizes, or the method no model).
struct PeakEstimate {
  int64_t declared_bytes = -1;  // what the method reserves at its peak (counts against the budget)
  int64_t data_bytes = -1;      // the features / embeddings held by the cell (not budgeted)
  std::string detail;           // "M=5000 d=64: dense 4*M^2"
};
// shared_size: the size the cell's shared artefact is built at (knn_sweep_k of its experiment, the k of a
// bgfdq K sweep's graph; 0: the cell's own).
PeakEstimate estimate_peak(const CellConfig& cell, int64_t shared_size = 0);

// `store` may be null (no database yet: every cell PENDING).
std::string render_dry_run(const Experiment& ex, Store* store);

}  // namespace dq
