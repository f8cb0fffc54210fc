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
// a listed neighbour within the exact k-th distance counts; distances measured exactly, in double).
double recall_against(RowMatrix z, const NeighbourLists& truth, const NeighbourLists& lists, std::span<const int64_t> sample);

// The same with its one-sided 95% lower confidence bound for the whole set's recall: the estimate
// (hits over listed slots, a ratio over the sampled rows) less 1.645 of its standard error, which is
// estimated from the rows' own spread (the ratio estimator's: sum_s (hits_s - R valid_s)^2 over
// m (m - 1) mean(valid)^2), clamped to [0, recall]. NaN both where nothing was measured; lower =
// recall with one row.
struct SampledRecall {
  double recall = 0, lower = 0;
};
SampledRecall recall_with_bound(RowMatrix z, const NeighbourLists& truth, const NeighbourLists& lists,
                                std::span<const int64_t> sample);

}  // namespace dq::detail
