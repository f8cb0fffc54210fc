#pragma once
// Splits a labelled embedding matrix into per-class contiguous blocks and the ClassViews over them,
// the input every SelectionMethod::select receives.
#include <cstdint>
#include <vector>

#include "methods/method.h"

namespace dq {

struct ClassPartition {
  std::vector<std::vector<int64_t>> ids;  // per class: dataset ids in ascending order
  std::vector<std::vector<float>> z;      // per class: |ids| x d rows (empty when d == 0)
  std::vector<ClassView> views;           // one per class with at least one sample, by label
};

// z may be null with d == 0 (methods that ignore embeddings). Labels must lie in [0, num_classes).
ClassPartition partition_by_class(const float* z, int64_t d, const std::vector<int64_t>& labels, int64_t num_classes);

}  // namespace dq
