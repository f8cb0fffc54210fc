// lambda_C's pairs where an approximate search's lists hold too few of them: the smallest distances
// between rows of different duplicate groups, from one representative row per group.
#include <algorithm>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "methods/knn/internal/lists.h"

namespace dq::detail {

std::vector<double> smallest_pairs_between_groups(RowMatrix z, const std::vector<int32_t>& groups, int64_t pairs,
                                                  const ExactSearchOptions& exact, MemoryBudget& memory) {
  const int64_t n = z.rows, d = z.cols;
  DQ_ASSERT(static_cast<int64_t>(groups.size()) == n, "one group per row");
  std::vector<int64_t> size(static_cast<size_t>(n), 0);  // rows per group, at the group's first row
  for (int64_t i = 0; i < n; ++i) ++size[static_cast<size_t>(groups[static_cast<size_t>(i)])];
  std::vector<int64_t> reps;
  for (int64_t i = 0; i < n; ++i)
    if (groups[static_cast<size_t>(i)] == i) reps.push_back(i);
  const auto g = static_cast<int64_t>(reps.size());
  if (g < 2 || pairs <= 0) return {};
  auto reservation = memory.reserve(static_cast<uint64_t>(g * d) * sizeof(float), "knn group representatives");
  std::vector<float> rows(static_cast<size_t>(g * d));
  for (int64_t a = 0; a < g; ++a) std::copy_n(z.row(reps[static_cast<size_t>(a)]), d, rows.data() + a * d);
  const RowMatrix r{rows.data(), g, d};
  // A pair among the `pairs` smallest between representatives has each side among the other's
  // `pairs` nearest, so lists of that length hold them all.
  ExactSearchOptions o = exact;
  o.k = std::min<int64_t>(pairs, g - 1);
  const SelfKnnResult lists = exact_self_knn(r, 0, o, memory);
  std::vector<std::tuple<double, int64_t, int64_t>> between;  // (exact distance, a, b), a < b
  for (int64_t a = 0; a < g; ++a)
    for (int64_t t = 0; t < o.k; ++t) {
      const int32_t b = lists.lists.ids_of(a)[t];
      if (b > a) between.emplace_back(exact_sqdist(r.row(a), r.row(b), d), a, b);
    }
  std::sort(between.begin(), between.end());
  // Every row of group A is at that distance from every row of group B: |A| |B| row pairs, as the
  // exact search over all rows counts them.
  std::vector<double> out;
  for (const auto& [dist, a, b] : between) {
    const int64_t times = size[static_cast<size_t>(reps[static_cast<size_t>(a)])] * size[static_cast<size_t>(reps[static_cast<size_t>(b)])];
    for (int64_t t = 0; t < times && static_cast<int64_t>(out.size()) < pairs; ++t) out.push_back(dist);
    if (static_cast<int64_t>(out.size()) == pairs) break;
  }
  return out;
}

}  // namespace dq::detail
