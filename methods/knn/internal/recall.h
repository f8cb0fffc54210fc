#pragma once
// recall@k in two steps (internal to methods/knn/): the sample's exact lists once, then recall of any
// lists against them (the recall target re-measures after every raise of nprobe).
#include <cstdint>
#include <span>

#include "core/memory_budget.h"
#include "methods/knn/search.h"

namespace dq::detail {

// Exact k nearest of the sampled rows (each excluding itself) among all rows of z.
NeighbourLists sampled_truth(RowMatrix z, std::span<const int64_t> sample, int64_t k, const ExactSearchOptions& options,
                             MemoryBudget& memory);
// recall@k of `lists` (all rows of z) on the sample whose exact lists are `truth` (recall_at_k's rule:
// a listed neighbour within the exact k-th distance counts; distances measured exactly, in double),
// with its standard error and one-sided 95% lower bound (search.h, RecallEstimate).
RecallEstimate recall_with_bound(RowMatrix z, const NeighbourLists& truth, const NeighbourLists& lists,
                                 std::span<const int64_t> sample);

}  // namespace dq::detail
