// The reference distance every list is ranked by: squared Euclidean, accumulated in double in a fixed
// order, so it is the same value on every machine, thread count and SIMD clone.
#include <cstring>

#include "methods/knn/internal/rerank.h"
#include "methods/knn/search.h"

namespace dq {

namespace {
using Float4 = float __attribute__((vector_size(16)));
using Double4 = double __attribute__((vector_size(32)));
Float4 load4(const float* p) {
  Float4 f;
  std::memcpy(&f, p, sizeof f);
  return f;
}
}  // namespace

// Eight partial sums in two 4-lane vectors, combined in a fixed order: the same value on every
// machine and in both clones (AVX2 where the CPU has it, SSE2 otherwise; the file is compiled with
// -ffp-contract=off, CMakeLists.txt, so no build contracts them to FMA).
__attribute__((target_clones("avx2", "default"))) double exact_sqdist(const float* a, const float* b, int64_t d) {
  Double4 s0 = {0, 0, 0, 0}, s1 = {0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= d; k += 8) {
    const Double4 e0 = __builtin_convertvector(load4(a + k), Double4) - __builtin_convertvector(load4(b + k), Double4);
    const Double4 e1 = __builtin_convertvector(load4(a + k + 4), Double4) - __builtin_convertvector(load4(b + k + 4), Double4);
    s0 += e0 * e0;
    s1 += e1 * e1;
  }
  double tail = 0;
  for (; k < d; ++k) {
    const double e = static_cast<double>(a[k]) - b[k];
    tail += e * e;
  }
  const Double4 s = s0 + s1;
  return ((s[0] + s[1]) + (s[2] + s[3])) + tail;
}

namespace detail {
namespace {

// exact_sqdist of `a` against four rows at once: each row's sums are exactly exact_sqdist's (the same
// additions in the same order per lane), four chains in flight instead of one, which the single call
// leaves waiting on its adds.
__attribute__((target_clones("avx2", "default"))) void exact_sqdist4(const float* a, const float* const* b, int64_t d,
                                                                     double* out) {
  constexpr int kRows = 4;
  Double4 s0[kRows], s1[kRows];
  for (int r = 0; r < kRows; ++r) s0[r] = s1[r] = Double4{0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= d; k += 8) {
    const Double4 a0 = __builtin_convertvector(load4(a + k), Double4);
    const Double4 a1 = __builtin_convertvector(load4(a + k + 4), Double4);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      const Double4 e0 = a0 - __builtin_convertvector(load4(b[r] + k), Double4);
      const Double4 e1 = a1 - __builtin_convertvector(load4(b[r] + k + 4), Double4);
      s0[r] += e0 * e0;
      s1[r] += e1 * e1;
    }
  }
  for (int r = 0; r < kRows; ++r) {
    double tail = 0;
    for (int64_t t = k; t < d; ++t) {
      const double e = static_cast<double>(a[t]) - b[r][t];
      tail += e * e;
    }
    const Double4 s = s0[r] + s1[r];
    out[r] = ((s[0] + s[1]) + (s[2] + s[3])) + tail;
  }
}

}  // namespace

void exact_sqdists(const float* a, const float* const* rows, int64_t count, int64_t d, double* out) {
  int64_t i = 0;
  for (; i + 4 <= count; i += 4) exact_sqdist4(a, rows + i, d, out + i);
  for (; i < count; ++i) out[i] = exact_sqdist(a, rows[i], d);
}

}  // namespace detail
}  // namespace dq
