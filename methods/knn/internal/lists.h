#pragma once
// The containers every search ranks into (internal to methods/knn/): a row's k best neighbours, the
// smallest pair distances for lambda_C, and empty lists declared to the memory budget.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <set>
#include <tuple>
#include <vector>

#include "core/memory_budget.h"
#include "methods/duplicate_rows.h"
#include "methods/knn/search.h"

namespace dq::detail {

// n x k lists with every slot empty (id -1, distance +inf), declared to the budget while `reservation`
// lives.
NeighbourLists empty_lists(int64_t n, int64_t k, MemoryBudget& memory, MemoryBudget::Reservation& reservation);
// The rows' duplicate groups (methods/duplicate_rows.h), asserting that they are finite as every search
// assumes (core/embedding_check.h refuses anything else where embeddings enter).
DuplicateGroups finite_duplicate_groups(RowMatrix z);

// Where an approximate self-search starts: the rows' duplicate groups (pairs inside a group are zero
// and never feed lambda_C) and a result with empty lists, reserved while `lists_reservation` lives.
// The `pairs` smallest exact distances between rows of different duplicate groups (groups as
// finite_duplicate_groups gives them: each row's group is its group's first row), counting every row
// pair as the exact self-search does, ascending. From one representative row per group, searched
// exactly: for an approximate search whose lists hold fewer than `pairs` such pairs (rows with k or
// more exact duplicates list only those; lambda_C was then 0). group_pairs.cpp.
std::vector<double> smallest_pairs_between_groups(RowMatrix z, const std::vector<int32_t>& groups, int64_t pairs,
                                                  const ExactSearchOptions& exact, MemoryBudget& memory);

struct ApproximateStart {
  std::vector<int32_t> groups;
  SelfKnnResult result;
  MemoryBudget::Reservation lists_reservation;
};
// `known`: z's duplicate groups where the caller has them (computed otherwise).
ApproximateStart start_approximate(RowMatrix z, int64_t k, MemoryBudget& memory, const DuplicateGroups* known = nullptr);

struct Neighbour {
  double d;
  int32_t j;
};

// The k best (distance, index) pairs offered so far, ascending; ties go to the lower index.
struct TopK {
  size_t k = 0;
  std::vector<Neighbour> best;
  void reset(size_t new_k) {
    k = new_k;
    best.clear();
  }
  void offer(double d, int32_t j);
  bool full_of_zeros() const { return k > 0 && best.size() == k && best.back().d == 0; }
};

// The `capacity` smallest distinct pairs (distance, lower row, higher row) offered; a pair offered
// from both of its ends is kept once. lambda_C is the mean of their distances. One per thread, merged
// after the parallel region: the multiset of the smallest distances does not depend on which thread
// saw which pair.
struct SmallestPairs {
  using Pair = std::tuple<double, int32_t, int32_t>;
  size_t capacity = 0;
  std::set<Pair> pairs;
  bool full() const { return pairs.size() >= capacity; }
  // The largest distance held (meaningful when full): a pair must not exceed it to enter.
  double largest() const { return std::get<0>(*pairs.rbegin()); }
  void offer(const Pair& p) {
    if (capacity == 0) return;
    if (pairs.size() == capacity && !(p < *pairs.rbegin())) return;
    pairs.insert(p);
    if (pairs.size() > capacity) pairs.erase(std::prev(pairs.end()));
  }
  void offer(double d, int64_t i, int64_t j) {
    offer(Pair{d, static_cast<int32_t>(std::min(i, j)), static_cast<int32_t>(std::max(i, j))});
  }
  // The smallest distinct pairs over per-thread sets, ascending distances.
  static std::vector<double> merged_distances(const std::vector<SmallestPairs>& sets, size_t capacity);
};

}  // namespace dq::detail
