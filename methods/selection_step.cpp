#include "methods/selection_step.h"

#include "core/error.h"

namespace dq {

Selection run_selection(SelectionMethod& method, std::span<const ClassView> classes, const SelectContext& ctx) {
  Selection out;
  {
    auto stage = ctx.timer.scope("select");
    out.classes = method.select(classes, ctx);
  }
  DQ_ASSERT(out.classes.size() == classes.size(), "a method returned a selection count other than its class count");
  for (const auto& s : out.classes) {
    DQ_ASSERT(s.ids.size() == s.keep.size(), "a method returned ids and keep fractions of different lengths");
    out.ids.insert(out.ids.end(), s.ids.begin(), s.ids.end());
    out.keep.insert(out.keep.end(), s.keep.begin(), s.keep.end());
    for (float w : s.keep) out.kept += w;
  }
  return out;
}

}  // namespace dq
