// Empty lists, duplicate counts and the bounded rankings every search fills.
#include <algorithm>

#include "core/error.h"
#include "methods/knn/internal/lists.h"

namespace dq::detail {

NeighbourLists empty_lists(int64_t n, int64_t k, MemoryBudget& memory, MemoryBudget::Reservation& reservation) {
  reservation = memory.reserve(static_cast<uint64_t>(n * k) * (sizeof(int32_t) + sizeof(float)), "knn lists");
  NeighbourLists lists;
  lists.n = n;
  lists.k = k;
  lists.ids.assign(static_cast<size_t>(n * k), -1);
  lists.dist.assign(static_cast<size_t>(n * k), NeighbourLists::kEmpty);
  return lists;
}

DuplicateGroups finite_duplicate_groups(RowMatrix z) {
  DuplicateGroups groups = duplicate_groups(z.data, z.rows, z.cols);
  DQ_ASSERT(groups.non_finite_rows == 0, "embeddings are checked finite where they enter (core/embedding_check.h)");
  return groups;
}

ApproximateStart start_approximate(RowMatrix z, int64_t k, MemoryBudget& memory, const DuplicateGroups* known) {
  ApproximateStart start;
  DuplicateGroups groups = known ? *known : finite_duplicate_groups(z);
  DQ_ASSERT(static_cast<int64_t>(groups.group.size()) == z.rows, "duplicate groups of other rows");
  start.groups = std::move(groups.group);
  start.result.pairs_exact = false;
  start.result.duplicates = groups.duplicates;
  start.result.lists = empty_lists(z.rows, k, memory, start.lists_reservation);
  return start;
}

void TopK::offer(double d, int32_t j) {
  auto before = [](const Neighbour& a, const Neighbour& b) { return a.d < b.d || (a.d == b.d && a.j < b.j); };
  if (k == 0) return;
  const Neighbour c{d, j};
  if (best.size() == k) {
    if (!before(c, best.back())) return;
    best.pop_back();
  }
  best.insert(std::upper_bound(best.begin(), best.end(), c, before), c);
}

std::vector<double> SmallestPairs::merged_distances(const std::vector<SmallestPairs>& sets, size_t capacity) {
  SmallestPairs merged;
  merged.capacity = capacity;
  for (const auto& set : sets)
    for (const auto& pair : set.pairs) merged.offer(pair);
  std::vector<double> out;
  for (const auto& p : merged.pairs) out.push_back(std::get<0>(p));
  return out;
}

}  // namespace dq::detail
