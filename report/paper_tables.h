#pragma once
// The paper's tables regenerated from recorded cells: one TableFile per paper table, one table per
// experiment in it (an experiment file fixes one recipe), the paper's numbers beside ours, footnotes
// on every deviation, and the paired differences between rows. A paper table with no recorded cells
// still appears, with the paper's numbers and "not run" for ours.
#include <vector>

#include "report/results.h"
#include "report/table_model.h"

namespace dq {

// Table 1: top-1 per method and (dataset, ratio). Cells: every trained cell, and selection-only
// cells on the paper's datasets in experiments with OOM cells (the Fakeddit story); methods with
// theta = 0 (no patch dropping) other than Random belong to the selection ablation instead.
TableFile build_main_table(const ResultSet& rs);
// Table 5: RS / BG+RS / NI+NCS without patch dropping; top-1 and coverage/redundancy. Experiments
// with at least one of BG+RS or NI+NCS.
TableFile build_ablation_table(const ResultSet& rs);
// Table 4: recorded stage times (bin generation, neighbour identification, patch dropping, the whole
// selection, embedding, training) per method, for experiments whose cells record selection
// sub-stages on real (not synthetic) data and compare at least two methods (sweeps of one method are
// in the sweeps table).
TableFile build_runtime_table(const ResultSet& rs);
// The scale table: cells on synthetic embeddings or Fakeddit: status, memory asked on OOM, budget,
// peak RSS, times, recall of approximate neighbours, coverage/redundancy.
TableFile build_scale_table(const ResultSet& rs);
// Sweeps over k, alpha and lambda_scale: every group of cells that differ only in that parameter.
TableFile build_sweeps_table(const ResultSet& rs);
// Cross-architecture: trained cells whose target network differs from the extractor's.
TableFile build_cross_arch_table(const ResultSet& rs);

// All of them in the order above.
std::vector<TableFile> build_paper_tables(const ResultSet& rs);

}  // namespace dq
