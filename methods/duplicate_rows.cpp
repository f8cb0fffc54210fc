// Exact duplicate rows, one policy (methods/duplicate_rows.h).
#include "methods/duplicate_rows.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "methods/size_limits.h"

namespace dq {

DuplicateGroups duplicate_groups(const float* rows, int64_t n, int64_t d) {
  DQ_ASSERT(n >= 0 && d >= 0, "duplicate groups need n >= 0 rows of d >= 0 values");
  check_search_rows(n, "duplicate rows");  // group ids are int32
  auto row = [&](int64_t i) { return rows + i * d; };
  DuplicateGroups out;
  std::vector<uint64_t> hash(static_cast<size_t>(n));
  int64_t non_finite = 0;
#pragma omp parallel for schedule(static) reduction(+ : non_finite)
  for (int64_t i = 0; i < n; ++i) {
    uint64_t h = 0xCBF29CE484222325ULL;  // FNV-1a over the values' bits
    bool finite = true;
    for (int64_t k = 0; k < d; ++k) {
      const float v = row(i)[k];
      finite = finite && std::isfinite(v);
      const uint32_t bits = v == 0.0f ? 0u : std::bit_cast<uint32_t>(v);  // -0 hashes as +0
      h = (h ^ bits) * 0x100000001B3ULL;
    }
    hash[static_cast<size_t>(i)] = h;
    non_finite += finite ? 0 : 1;
  }
  out.non_finite_rows = non_finite;

  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const uint64_t ha = hash[static_cast<size_t>(a)], hb = hash[static_cast<size_t>(b)];
    return ha != hb ? ha < hb : a < b;
  });
  out.group.resize(static_cast<size_t>(n));
  std::iota(out.group.begin(), out.group.end(), 0);
  auto equal_rows = [&](int32_t a, int32_t b) {
    for (int64_t k = 0; k < d; ++k)
      if (!(row(a)[k] == row(b)[k])) return false;  // value equality: -0 == +0, NaN == nothing
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
      const int32_t r = order[t];
      auto rep = std::find_if(reps.begin(), reps.end(), [&](int32_t p) { return equal_rows(p, r); });
      if (rep == reps.end()) {
        reps.push_back(r);
      } else {
        out.group[static_cast<size_t>(r)] = *rep;
        ++out.duplicates;
      }
    }
    start = end;
  }
  return out;
}

}  // namespace dq
