#pragma once
// `dqbench table`: the result table of a database alone, its cells read as the report reads them
// (report/results.h, read_results) and laid out by report/table_model.h: accuracy mean +- std over seeds per (dataset, method,
// ratio, configuration: cells that share a label but not a configuration are rows of their own, the
// label followed by the parameters in which they differ); its improvement over a baseline method (paired by seed, in points, with the 95% t-interval;
// core/stats.h); the optimiser steps and the storage each row actually used, the realised sample
// ratio, selection time and the status of cells that did not finish. Above the table, the recipes'
// budget protocol (models.h budget_protocol_text); below it, what the improvement column means, or
// that no cell of the baseline was found.
#include <string>

#include "core/text_escape.h"

namespace dq {

class Store;

// `baseline`: the method (its registered name or its label in the table, ignoring case) whose top-1
// the others are paired with at the same dataset and ratio.
std::string render_results_table(Store& store, const std::string& experiment, TableFormat format,
                                 const std::string& baseline = "random");

}  // namespace dq
