#pragma once
// Result tables from the database alone: accuracy mean +- std over seeds per (dataset, method,
// ratio), with realised ratios, selection time and the status of cells that did not finish.
#include <string>

#include "harness/store.h"

namespace dq {

enum class TableFormat { Terminal, Markdown };
TableFormat table_format_from(const std::string& name);  // "term" | "md"

std::string render_results_table(Store& store, const std::string& experiment, TableFormat format);

}  // namespace dq
