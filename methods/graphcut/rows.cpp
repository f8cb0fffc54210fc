#include "methods/graphcut/internal/rows.h"

#include <cmath>
#include <cstring>
#include <unordered_map>

namespace dq::graphcut {

std::vector<int64_t> duplicate_representatives(const float* rows, int64_t m, int64_t d) {
  std::vector<int64_t> rep(static_cast<size_t>(m));
  std::unordered_map<uint64_t, std::vector<int64_t>> buckets;
  buckets.reserve(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) {
    const float* r = rows + i * d;
    uint64_t h = 0xCBF29CE484222325ULL;  // FNV-1a over the values' bits, with -0 folded into +0
    for (int64_t k = 0; k < d; ++k) {
      const float v = r[k] == 0.0f ? 0.0f : r[k];
      uint32_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      h = (h ^ bits) * 0x100000001B3ULL;
    }
    rep[static_cast<size_t>(i)] = i;
    auto& bucket = buckets[h];
    for (int64_t j : bucket) {
      const float* q = rows + j * d;
      int64_t k = 0;
      while (k < d && r[k] == q[k]) ++k;
      if (k == d) {
        rep[static_cast<size_t>(i)] = j;
        break;
      }
    }
    if (rep[static_cast<size_t>(i)] == i) bucket.push_back(i);
  }
  return rep;
}

double squared_norm(const float* x, int64_t d) {
  double n2 = 0;
  for (int64_t k = 0; k < d; ++k) n2 += static_cast<double>(x[k]) * x[k];
  return n2;
}

double unit_row(const float* x, int64_t d, float* out) {
  const double n2 = squared_norm(x, d);
  const double inv = n2 > 0 ? 1.0 / std::sqrt(n2) : 0.0;
  for (int64_t k = 0; k < d; ++k) out[k] = static_cast<float>(x[k] * inv);
  return n2;
}

}  // namespace dq::graphcut
