#pragma once
// Cells grouped into one table cell (same experiment, dataset, method spec, ratio; one cell per
// seed), their summaries as text, and the paired-difference table of a table's rows.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "report/results.h"
#include "report/table_model.h"

namespace dq {

// A quantity of a cell: a metric, a stage's wall time, or anything derived.
using Quantity = std::function<std::optional<double>(const CellResult&)>;
Quantity metric_quantity(const std::string& name);
Quantity stage_quantity(const std::string& stage);
// `quantity`, or nothing for a cell that read DQ's bins or BGFDQ's KNN graph from the cache (its selection
// time is a file read, not the method's work).
Quantity unless_cached(const Quantity& quantity);

struct CellGroup {
  std::vector<const CellResult*> cells;
  // Values of DONE cells that have the quantity, by seed (a seed appears once per group).
  std::map<int64_t, double> by_seed(const Quantity& quantity, double scale = 1) const;
  // The DONE cells that have the quantity, by seed (the cells of by_seed).
  std::map<int64_t, const CellResult*> cells_by_seed(const Quantity& quantity) const;
  std::vector<double> values(const Quantity& quantity, double scale = 1) const;
  int done() const;
};

// "87.10 ± 0.20 (n=3)"; "87.10 (n=1)"; cells that did not finish are never averaged in and are
// listed after: "87.10 ± 0.20 (n=2); OOM ×1". With no DONE value: the statuses ("OOM (149.0 GiB
// asked)", "FAILED ×2"), `done_without_value` when DONE cells lack the quantity, "not run" for an
// empty group. DONE cells whose recorded upstream artefacts differ (report/integrity.h) are never
// averaged together: "mixed upstream: 61.29 (n=1; embeddings 1a2b3c4d) / 58.10 ± 0.20 (n=2; embeddings
// 5e6f7a8b)".
std::string summary_cell(const CellGroup& group, const Quantity& quantity, double scale, int digits,
                         const std::string& done_without_value = "–");
// The statuses of cells that are not DONE: "OOM ×1 (149.0 GiB asked)"; "" when all are DONE.
std::string not_done_text(const CellGroup& group);

// Paired differences over seeds, for each column and each pair of rows that have values there:
// A - B with A the later row (rows in table order), n pairs, mean, 95% t-interval, and "yes" where
// the interval excludes 0. A seed pairs two cells only when their recorded upstream artefacts agree
// (report/integrity.h); the pairs left out are listed in the table's notes.
struct PairedColumn {
  std::string label;                                       // "CIFAR-10 20%"
  std::vector<std::pair<std::string, CellGroup>> rows;     // row label, its cells
};
ReportTable paired_table(const std::string& title, const std::vector<PairedColumn>& columns, const Quantity& quantity,
                         double scale, int digits, const std::string& unit);

// The paired improvement of a group over the baseline's group in one column (A_s - B_s over the seeds
// both have and whose two cells recorded the same upstream artefacts, core/stats.h, report/integrity.h):
// "+1.23 [-0.50, +2.96] (n=3)", "+1.23 (n=1)", "no shared seed", "different upstream", or "–" when
// either has no value.
std::string improvement_cell(const CellGroup& group, const CellGroup& baseline, const Quantity& quantity, double scale,
                             int digits);
// What a table cell's DONE cells actually used: their optimiser steps (metric train_steps; a range when
// seeds differ) and their storage (metric storage_ratio, realised, mean over seeds): "392 steps, 19.92%".
// "–" without DONE cells.
std::string budget_cell(const CellGroup& group);

std::string ratio_text(double ratio);  // 0.2 -> "20%", 0.01 -> "1%", 0.125 -> "12.5%"

}  // namespace dq

namespace dq {

// Cells laid out as rows (one per method spec, labelled and ordered like the paper's rows) by
// columns (dataset, ratio, and an optional extra key such as the target architecture).
struct GridColumn {
  std::string dataset;  // paper dataset key
  double ratio = 0;
  std::string extra;
  bool operator<(const GridColumn& other) const;  // paper dataset order, ratio descending, extra
  bool operator==(const GridColumn& other) const = default;
};
struct MethodGrid {
  struct Row {
    std::string spec;                       // canonical method spec; "" for a paper row not run
    std::string label;                      // paper row label
    std::string display;                    // label plus the parameters that tell variants apart
    const CellResult* example = nullptr;    // one of its cells
  };
  std::vector<Row> rows;
  std::vector<GridColumn> columns;
  std::map<std::pair<size_t, size_t>, CellGroup> groups;  // (row, column)
  const CellGroup& at(size_t row, size_t column) const;   // an empty group when nothing was run
  // Adds a row with no cells for each label in `labels` that no row has (the paper's rows not run).
  void add_missing_rows(const std::vector<std::string>& labels);
  std::vector<PairedColumn> paired_columns(const std::function<std::string(const GridColumn&)>& name) const;
  // The row that has cells and whose label, display, method spec or method name equals `baseline`
  // (ignoring case); nullopt when none or several do, with the reason in `why`.
  std::optional<size_t> baseline_row(const std::string& baseline, std::string& why) const;
};
// Improvement over the baseline row, per seed: one row per (column, other row with values there): the
// difference A_s - B_s at each shared seed, their count, mean and 95% t-interval. Without a baseline row
// the table has no rows and its caption says why (`why`, from MethodGrid::baseline_row).
ReportTable improvement_table(const std::string& title, const MethodGrid& grid, std::optional<size_t> baseline,
                              const std::string& why, const std::function<std::string(const GridColumn&)>& name,
                              const Quantity& quantity, double scale, int digits, const std::string& unit);

// "Rows: DQ = `dq(...)`; BGFDQ w/o SPD = `bgfdq(...)`.": each row's display label and method spec.
std::string spec_note(const MethodGrid& grid);

MethodGrid make_grid(const std::vector<const CellResult*>& cells,
                     const std::function<std::string(const CellResult&)>& row_label,
                     const std::function<std::string(const CellResult&)>& column_extra = {});

}  // namespace dq
