#pragma once
// The paper's tables regenerated from recorded cells: one TableFile per paper table, one table per
// experiment in it (an experiment file fixes one recipe), the paper's numbers beside ours, footnotes
// on every deviation, and the paired differences between rows. A paper table with no recorded cells
// still appears, with the paper's numbers and "not run" for ours.
#include <string>
#include <vector>

#include "report/results.h"
#include "report/table_model.h"

namespace dq {

// What the caller chooses about the accuracy tables (`dqbench tables|report --baseline`).
struct TableOptions {
  // The row every other row's top-1 is paired with, per seed, in each accuracy table's improvement
  // column and per-seed table: a row label ("Random", "BGFDQ w/ SPD", a coreset's label), a method spec
  // or a method name, ignoring case. An experiment without it says so in its tables.
  std::string baseline = "random";
};

// Every accuracy table (Table 1, Table 5, cross-architecture) shows, per experiment, the budget
// protocol in its caption (models.h budget_protocol_text), and per method and column the paired
// improvement over the baseline and the steps and storage the cells actually used; a per-seed table of
// the improvement follows the paired differences.

// Table 1: top-1 per method and (dataset, ratio). Cells: every trained cell, and selection-only
// cells on the paper's datasets in experiments with OOM cells (the Fakeddit story); methods with
// theta = 0 (no patch dropping) other than Random belong to the selection ablation instead.
TableFile build_main_table(const ResultSet& rs, const TableOptions& options = {});
// Table 5: RS / BG+RS / NI+NCS without patch dropping; top-1 and coverage/redundancy. Experiments
// with at least one of BG+RS or NI+NCS.
TableFile build_ablation_table(const ResultSet& rs, const TableOptions& options = {});
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
TableFile build_cross_arch_table(const ResultSet& rs, const TableOptions& options = {});

// All of them in the order above.
std::vector<TableFile> build_paper_tables(const ResultSet& rs, const TableOptions& options = {});

}  // namespace dq
