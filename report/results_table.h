#pragma once
// Result tables from the database alone: accuracy mean +- std over seeds per (dataset, method,
// ratio); its improvement over a baseline method (paired by seed, in points, with the 95% t-interval;
// core/stats.h); the optimiser steps and the storage each row actually used, the realised sample
// ratio, selection time and the status of cells that did not finish. Above the table, the recipes'
// budget protocol (models.h budget_protocol_text); below it, what the improvement column means, or
// that no cell of the baseline was found.
#include <string>

#include "harness/store.h"

namespace dq {

enum class TableFormat { Terminal, Markdown };
TableFormat table_format_from(const std::string& name);  // "term" | "md"

// `baseline`: the method (its registered name or its label in the table, ignoring case) whose top-1
// the others are paired with at the same dataset and ratio.
std::string render_results_table(Store& store, const std::string& experiment, TableFormat format,
                                 const std::string& baseline = "random");

}  // namespace dq
