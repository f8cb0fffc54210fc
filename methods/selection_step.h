#pragma once
// The select stage, one home for `dqbench run` (harness/run_cell.cpp) and `dqbench select`
// (harness/select_command.cpp): runs the method on every class, timed as the stage "select", checks
// what it returned (one selection per class, one kept fraction per pick) and gathers the picks.
#include <cstdint>
#include <span>
#include <vector>

#include "methods/method.h"

namespace dq {

struct Selection {
  std::vector<ClassSelection> classes;  // one per class, in the order of the class views
  std::vector<int64_t> ids;             // every pick: classes in that order, each in pick order
  std::vector<float> keep;              // the kept fraction of each pick, in (0, 1]
  double kept = 0;                      // sum of keep: stored images in image units
};

// Calls method.select(classes, ctx) under ctx.timer's scope "select". A method that breaks the
// contract (a selection count or keep length that does not match) is a broken invariant (DQ_ASSERT).
Selection run_selection(SelectionMethod& method, std::span<const ClassView> classes, const SelectContext& ctx);

}  // namespace dq
