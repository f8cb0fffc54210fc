// The shared exact re-rank: a float pre-measurement with a proven relative bound, then exact_sqdist
// for what can still rank.
//
// Bound. f = float_sqdist(a, b) sums d terms fl(fl(a_k - b_k)^2), each within (1 + u)^2 of
// (a_k - b_k)^2 (u = 2^-24), in any order (gamma_d(u) on a sum of non-negative terms), so
// |f - D| <= gamma_{d+2}(u) D + a with D the real squared distance and a = 2 d 2^-126 for terms
// that underflow (gradual or flushed). exact_sqdist returns E with |E - D| <= gamma_{d+1}(2^-53) D.
// With eps = 1.01 (gamma_{d+2}(u) + gamma_{d+1}(2^-53)) (1% for the double arithmetic below):
// L = (f - a) / (1 + eps) <= E <= (f + a) / (1 - eps) = U. A candidate whose float sum overflowed
// gets L = 0, U = +inf. The k-th smallest of the held exact distances and the candidates' U bounds
// the k-th smallest exact distance of the union from above; a candidate with L above it cannot rank
// (its E is larger than k others'), every other one is measured exactly. Ties are kept: a candidate
// with E equal to the k-th distance has L <= E, so it survives and the (distance, index) order
// decides.
#include <algorithm>
#include <cmath>
#include <limits>

#include "methods/knn/internal/rerank.h"

namespace dq::detail {

__attribute__((target_clones("avx512f", "avx2", "default"))) float float_sqdist(const float* a, const float* b, int64_t d) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < d; ++k) {
    const float e = a[k] - b[k];
    s += e * e;
  }
  return s;
}

namespace {

// float_sqdist of `a` against four rows at once (four sums in flight; any order is within the bound).
__attribute__((target_clones("avx512f", "avx2", "default"))) void float_sqdist4(const float* a, const float* const* b, int64_t d,
                                                                                float* out) {
  const float *b0 = b[0], *b1 = b[1], *b2 = b[2], *b3 = b[3];
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
  for (int64_t k = 0; k < d; ++k) {
    const float e0 = a[k] - b0[k], e1 = a[k] - b1[k], e2 = a[k] - b2[k], e3 = a[k] - b3[k];
    s0 += e0 * e0;
    s1 += e1 * e1;
    s2 += e2 * e2;
    s3 += e3 * e3;
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

}  // namespace

void measure_survivors(const float* query, RowMatrix base, RerankScratch& scratch) {
  const size_t m = scratch.survivors.size();
  scratch.gathered.resize(m);
  for (size_t t = 0; t < m; ++t) scratch.gathered[t] = base.row(scratch.survivors[t]);
  scratch.exact.resize(m);
  exact_sqdists(query, scratch.gathered.data(), static_cast<int64_t>(m), base.cols, scratch.exact.data());
}

void float_prefilter(const float* query, RowMatrix base, std::span<const int32_t> candidates, std::span<const double> held,
                     size_t k, RerankScratch& scratch) {
  std::vector<int32_t>& out = scratch.survivors;
  out.clear();
  const size_t m = candidates.size();
  if (held.size() + m <= k || k == 0) {  // every candidate ranks (or none can)
    if (k > 0) out.assign(candidates.begin(), candidates.end());
    return;
  }
  const double dd = static_cast<double>(base.cols);
  const double u = 0x1p-24, ud = 0x1p-53;
  const double eps = 1.01 * ((dd + 2) * u / (1 - (dd + 2) * u) + (dd + 1) * ud / (1 - (dd + 1) * ud));
  const double a = 2 * dd * 0x1p-126;
  scratch.lower.resize(m);
  scratch.upper.resize(m);
  scratch.partial.resize(m);
  scratch.gathered.resize(m);
  for (size_t t = 0; t < m; ++t) scratch.gathered[t] = base.row(candidates[t]);
  size_t t4 = 0;
  for (; t4 + 4 <= m; t4 += 4) float_sqdist4(query, scratch.gathered.data() + t4, base.cols, scratch.partial.data() + t4);
  for (; t4 < m; ++t4) scratch.partial[t4] = float_sqdist(query, scratch.gathered[t4], base.cols);
  for (size_t t = 0; t < m; ++t) {
    const float f = scratch.partial[t];
    if (std::isfinite(f)) {
      scratch.lower[t] = std::max(0.0, (static_cast<double>(f) - a) / (1 + eps));
      scratch.upper[t] = (static_cast<double>(f) + a) / (1 - eps);
    } else {
      scratch.lower[t] = 0;
      scratch.upper[t] = std::numeric_limits<double>::infinity();
    }
  }
  // tau: the k-th smallest of held and upper (in any order).
  std::vector<double>& pool = scratch.upper;  // reused: upper is not needed after tau
  pool.insert(pool.end(), held.begin(), held.end());
  std::nth_element(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(k - 1), pool.end());
  const double tau = pool[k - 1];
  for (size_t t = 0; t < m; ++t)
    if (scratch.lower[t] <= tau) out.push_back(candidates[t]);
}

void rank_candidates(const float* query, RowMatrix base, std::span<const int32_t> candidates, TopK& top,
                     RerankScratch& scratch) {
  if (top.k == 0) return;
  scratch.held.clear();
  for (const Neighbour& nb : top.best) scratch.held.push_back(nb.d);
  float_prefilter(query, base, candidates, scratch.held, top.k, scratch);
  measure_survivors(query, base, scratch);
  for (size_t t = 0; t < scratch.survivors.size(); ++t) {
    // Survivors arrive in increasing index, so once k exact zeros are held, all below j (top may have
    // started with rows of any index: the clustered search's refinement), nothing can displace them.
    const int32_t j = scratch.survivors[t];
    if (top.full_of_zeros() && top.best.back().j < j) break;
    top.offer(scratch.exact[t], j);
  }
}

}  // namespace dq::detail
