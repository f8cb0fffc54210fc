// Rows equal value by value share a group (pairs inside a group are zero and never feed lambda_C).
// The rows are finite: embeddings are checked where they enter (core/embedding_check.h).
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "methods/knn/search.h"

namespace dq {

std::vector<int32_t> duplicate_groups(RowMatrix z) {
  DQ_ASSERT(z.rows < std::numeric_limits<int32_t>::max(), "class too large for int32 row ids");
  const int64_t n = z.rows, d = z.cols;
  std::vector<uint64_t> hash(static_cast<size_t>(n));
  int64_t first_bad = n;
#pragma omp parallel for schedule(static) reduction(min : first_bad)
  for (int64_t i = 0; i < n; ++i) {
    uint64_t h = 0xCBF29CE484222325ULL;
    for (int64_t k = 0; k < d; ++k) {
      const float v = z.row(i)[k];
      if (!std::isfinite(v)) first_bad = std::min(first_bad, i);
      const uint32_t bits = v == 0.0f ? 0u : std::bit_cast<uint32_t>(v);  // -0 hashes as +0
      h = (h ^ bits) * 0x100000001B3ULL;
    }
    hash[static_cast<size_t>(i)] = h;
  }
  DQ_ASSERT(first_bad == n, "embeddings are checked finite where they enter (core/embedding_check.h)");

  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return hash[static_cast<size_t>(a)] != hash[static_cast<size_t>(b)] ? hash[static_cast<size_t>(a)] < hash[static_cast<size_t>(b)]
                                                                          : a < b;
  });
  std::vector<int32_t> group(static_cast<size_t>(n));
  std::iota(group.begin(), group.end(), 0);
  auto equal_rows = [&](int32_t a, int32_t b) {
    for (int64_t k = 0; k < d; ++k)
      if (z.row(a)[k] != z.row(b)[k]) return false;
    return true;
  };
  // Within a run of equal hashes (rows in ascending order) each row joins the first earlier
  // representative it equals; a hash collision between different rows just makes a second group.
  std::vector<int32_t> reps;
  for (size_t start = 0; start < order.size();) {
    size_t end = start + 1;
    while (end < order.size() && hash[static_cast<size_t>(order[end])] == hash[static_cast<size_t>(order[start])]) ++end;
    reps.clear();
    for (size_t t = start; t < end; ++t) {
      const int32_t row = order[t];
      auto rep = std::find_if(reps.begin(), reps.end(), [&](int32_t r) { return equal_rows(r, row); });
      if (rep == reps.end()) reps.push_back(row);
      else group[static_cast<size_t>(row)] = *rep;
    }
    start = end;
  }
  return group;
}

}  // namespace dq
