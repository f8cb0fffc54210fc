// Large duplicate groups searched once: which rows are kept, and the whole class's lists afterwards
// (internal/duplicate_reduction.h gives the argument).
#include "methods/knn/internal/duplicate_reduction.h"

#include <algorithm>

#include "core/error.h"
#include "methods/knn/internal/lists.h"

namespace dq::detail {

std::optional<DuplicateReduction> reduce_duplicates(RowMatrix z, const DuplicateGroups& groups, int64_t k, int64_t pairs,
                                                    MemoryBudget& memory) {
  const int64_t n = z.rows;
  DQ_ASSERT(static_cast<int64_t>(groups.group.size()) == n, "duplicate groups of other rows");
  if (n == 0 || k < 0) return std::nullopt;
  const int64_t keep = std::max(k + 1, pairs);
  if (groups.duplicates < keep) return std::nullopt;  // no group can hold more than keep rows
  // Each row's rank within its group (rows ascending), and the groups' sizes at their first rows.
  auto scratch = memory.reserve(static_cast<uint64_t>(n) * 2 * sizeof(int32_t), "knn duplicate groups' ranks");
  std::vector<int32_t> rank(static_cast<size_t>(n)), size(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i) rank[static_cast<size_t>(i)] = size[static_cast<size_t>(groups.group[static_cast<size_t>(i)])]++;
  // Worth a copy of the kept rows only when it saves a share of the search: the rows left out are a
  // sixteenth of the class, or the large groups' copies would bring, as candidates of each other at
  // distance 0, at least 16 per row of the class (a search measures about k + a few per row).
  double left_out = 0, zero_pairs = 0;
  for (int64_t g = 0; g < n; ++g) {
    const auto m = static_cast<double>(size[static_cast<size_t>(g)]);
    if (m <= static_cast<double>(keep)) continue;
    left_out += m - static_cast<double>(keep);
    zero_pairs += m * m;
  }
  if (left_out == 0 || (16 * left_out < static_cast<double>(n) && zero_pairs < 16.0 * static_cast<double>(n))) return std::nullopt;

  DuplicateReduction r;
  r.rows = n;
  r.k = k;
  r.d = z.cols;
  r.duplicates = groups.duplicates;
  // Each large group's k lowest rows, contiguous from first[g] (groups interleave in row order).
  r.first.assign(static_cast<size_t>(n), -1);
  int64_t slots = 0;
  for (int64_t g = 0; g < n; ++g)
    if (size[static_cast<size_t>(g)] > keep) {
      r.first[static_cast<size_t>(g)] = static_cast<int32_t>(slots);
      slots += k;
    }
  r.lowest.assign(static_cast<size_t>(slots), -1);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t g = groups.group[static_cast<size_t>(i)];
    const int32_t at = rank[static_cast<size_t>(i)];
    if (at < keep) r.kept.push_back(i);
    if (size[static_cast<size_t>(g)] > keep && at < k)
      r.lowest[static_cast<size_t>(r.first[static_cast<size_t>(g)] + at)] = static_cast<int32_t>(i);
  }
  r.group = groups.group;
  const auto m = static_cast<int64_t>(r.kept.size());
  r.reservation = memory.reserve(static_cast<uint64_t>(m) * (static_cast<uint64_t>(z.cols) * sizeof(float) + sizeof(int64_t) +
                                                            sizeof(int32_t)) +
                                     static_cast<uint64_t>(n) * 2 * sizeof(int32_t) + r.lowest.size() * sizeof(int32_t),
                                 "knn rows of large duplicate groups, searched once");
  // The kept rows' groups: a group's first row is kept (rank 0), so it maps to its kept position,
  // which `size` (no longer needed) holds for it.
  r.searched_groups.group.resize(static_cast<size_t>(m));
  for (int64_t t = 0; t < m; ++t) {
    const int64_t i = r.kept[static_cast<size_t>(t)];
    const int32_t g = r.group[static_cast<size_t>(i)];
    if (g == i) size[static_cast<size_t>(i)] = static_cast<int32_t>(t);
    r.searched_groups.group[static_cast<size_t>(t)] = size[static_cast<size_t>(g)];
    r.searched_groups.duplicates += g != i;
  }
  r.values.reset(new float[static_cast<size_t>(m * z.cols)]);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < m; ++t) std::copy_n(z.row(r.kept[static_cast<size_t>(t)]), z.cols, r.values.get() + t * z.cols);
  return r;
}

NeighbourLists expand_lists(const DuplicateReduction& r, const NeighbourLists& reduced, MemoryBudget& memory,
                            MemoryBudget::Reservation& reservation) {
  DQ_ASSERT(reduced.n == static_cast<int64_t>(r.kept.size()) && reduced.k == r.k, "lists of another reduction");
  NeighbourLists out = empty_lists(r.rows, r.k, memory, reservation);
  std::vector<int8_t> is_kept(static_cast<size_t>(r.rows), 0);
  for (size_t t = 0; t < r.kept.size(); ++t) {
    const int64_t i = r.kept[t];
    is_kept[static_cast<size_t>(i)] = 1;
    for (int64_t a = 0; a < r.k; ++a) {
      const int32_t j = reduced.ids_of(static_cast<int64_t>(t))[a];
      out.ids[static_cast<size_t>(i * r.k + a)] = j < 0 ? -1 : static_cast<int32_t>(r.kept[static_cast<size_t>(j)]);
      out.dist[static_cast<size_t>(i * r.k + a)] = reduced.dist_of(static_cast<int64_t>(t))[a];
    }
  }
  for (int64_t i = 0; i < r.rows; ++i) {
    if (is_kept[static_cast<size_t>(i)]) continue;
    const int32_t at = r.first[static_cast<size_t>(r.group[static_cast<size_t>(i)])];
    DQ_ASSERT(at >= 0, "a row left out of the search belongs to a large group");
    for (int64_t a = 0; a < r.k; ++a) {
      out.ids[static_cast<size_t>(i * r.k + a)] = r.lowest[static_cast<size_t>(at + a)];
      out.dist[static_cast<size_t>(i * r.k + a)] = 0.0f;
    }
  }
  return out;
}

}  // namespace dq::detail
