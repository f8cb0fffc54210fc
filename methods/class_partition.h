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

  // `views` point into the storage of the inner vectors of `ids` and `z`. A copy would point into
  // the original, so copying is deleted. Moving is safe: moving a std::vector (construction, or
  // assignment with std::allocator) hands over its buffer without moving its elements, so the inner
  // vectors and their heap storage stay where they were and every span and pointer into them stays
  // valid ([container.reqmts]: no move of a container invalidates references to its elements).
  ClassPartition() = default;
  ClassPartition(const ClassPartition&) = delete;
  ClassPartition& operator=(const ClassPartition&) = delete;
  ClassPartition(ClassPartition&&) = default;
  ClassPartition& operator=(ClassPartition&&) = default;
};

// z may be null with d == 0 (methods that ignore embeddings). Labels must lie in [0, num_classes).
ClassPartition partition_by_class(const float* z, int64_t d, const std::vector<int64_t>& labels, int64_t num_classes);

}  // namespace dq
