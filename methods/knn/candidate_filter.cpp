// One row of a float distance tile -> its exact k nearest (nomination.cpp proves the bound): the k-th
// smallest upper bound sets a threshold, every base row whose lower bound passes it is a candidate,
// and the candidates are ranked exactly (rerank.cpp). Pairs for lambda_C are filtered the same way.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "methods/knn/internal/float_steps.h"
#include "methods/knn/internal/rerank.h"
#include "methods/knn/internal/tiled_search.h"

namespace dq::detail {

// An upper bound on the k-th smallest of v_c = g_c + norm_plus_c over c != skip (k >= 1): a value
// with at least k minima of disjoint groups of the values at or below it (so k values), found by at
// most 12 bisection steps between the smallest and the largest minimum, so at or above the k-th
// smallest minimum; +infinity when there are fewer than k groups or no such value is found (values
// that are not finite). Groups: in each block of 16 R values, the R values that share a position
// modulo 16, so every minimum is a lane of vertical vector minima (no horizontal reductions); the
// values after the last whole block are groups of one. R (a power of two, at most 256) gives 4k to 8k
// groups from the blocks where n allows (plus the tail's, fewer than 16 R): few enough that bisecting
// over the minima stays cheap, enough that the bound lies near the k-th value. The group holding
// `skip` takes its minimum without it.
__attribute__((target_clones("avx512f", "avx2", "default"))) float group_minima_bound(const float* g, const float* norm_plus,
                                                                                       int64_t n, int64_t skip, size_t k,
                                                                                       std::vector<float>& minima) {
  constexpr int64_t kLanes = 16;
  if (k == 0) return INFINITY;
  int64_t r = 1;
  while (r < 256 && 2 * r * static_cast<int64_t>(4 * k) <= n) r *= 2;
  const int64_t block = kLanes * r, whole = n / block * block;
  minima.resize(static_cast<size_t>(whole / r + (n - whole)));
  if (minima.size() < k) return INFINITY;
  float* m = minima.data();
  for (int64_t b = 0; b < whole; b += block, m += kLanes) {
    float lane[kLanes];
#pragma omp simd
    for (int64_t l = 0; l < kLanes; ++l) lane[l] = g[b + l] + norm_plus[b + l];
    for (int64_t o = kLanes; o < block; o += kLanes)
#pragma omp simd
      for (int64_t l = 0; l < kLanes; ++l) lane[l] = std::min(lane[l], g[b + o + l] + norm_plus[b + o + l]);
    std::copy_n(lane, kLanes, m);
  }
  for (int64_t c = whole; c < n; ++c) *m++ = g[c] + norm_plus[c];
  if (skip >= 0 && skip < n) {
    size_t at = static_cast<size_t>(whole / r + (skip - whole));  // a group of one after the blocks
    float without = INFINITY;
    if (skip < whole) {
      const int64_t b = skip / block * block, l = skip % kLanes;
      at = static_cast<size_t>(b / r + l);
      for (int64_t c = b + l; c < b + block; c += kLanes)
        if (c != skip) without = std::min(without, g[c] + norm_plus[c]);
    }
    minima[at] = without;
    if (!(without < INFINITY)) {  // the group was the skipped value alone
      minima[at] = minima.back();
      minima.pop_back();
      if (minima.size() < k) return INFINITY;
    }
  }
  // A value with at least k minima at or below it, near the k-th: bisection between the smallest
  // and the largest minimum on vectorised counts (a selection's data-dependent branches cost more).
  const int64_t count = static_cast<int64_t>(minima.size());
  const float* mv = minima.data();
  float lo = INFINITY, hi = -INFINITY;
#pragma omp simd reduction(min : lo)
  for (int64_t t = 0; t < count; ++t) lo = mv[t] < lo ? mv[t] : lo;
#pragma omp simd reduction(max : hi)
  for (int64_t t = 0; t < count; ++t) hi = mv[t] > hi ? mv[t] : hi;
  auto at_or_below = [&](float v) {
    int32_t below = 0;
#pragma omp simd reduction(+ : below)
    for (int64_t t = 0; t < count; ++t) below += mv[t] <= v ? 1 : 0;
    return static_cast<size_t>(below);
  };
  // hi holds k at or below it unless some minimum is NaN (then it is checked below).
  for (int step = 0; step < 12; ++step) {
    const float mid = lo * 0.5f + hi * 0.5f;  // no overflow at +-FLT_MAX
    if (!(mid > lo && mid < hi)) break;
    (at_or_below(mid) >= k ? hi : lo) = mid;
  }
  return at_or_below(hi) >= k ? hi : INFINITY;
}

// Largest value among the k smallest of g_j + norm_plus_j (j != skip): the k-th smallest upper bound
// on d_ij, less the row's own n_i + s_i; +infinity when fewer than k of them are below `cap` (the
// caller then needs no bound below cap). Chunks of the row are checked against the heap's top with
// wide vectors (the clones: most chunks hold nothing smaller), and only chunks that do are walked one
// by one. Without a cap the top starts one step above group_minima_bound, under which at least k
// values lie (so the result is the same as from +infinity): the heap then sees a few more than k
// values instead of the k ln(n / k) a stream in random order brings. A row with a cap (its limit from
// cells searched before, usually tight) starts from it and skips most of its chunks and heap work.
__attribute__((target_clones("avx512f", "avx2", "default"))) float kth_smallest_upper(const float* g, const float* norm_plus,
                                                                                       int64_t n, int64_t skip, size_t k,
                                                                                       float cap, std::vector<float>& heap,
                                                                                       std::vector<float>& minima) {
  DQ_ASSERT(k >= 1, "the k-th smallest of no values");
  heap.clear();
  float top = cap < INFINITY ? cap : next_up(group_minima_bound(g, norm_plus, n, skip, k, minima));
  constexpr int64_t kChunk = 32;
  for (int64_t j = 0; j < n; j += kChunk) {
    const int64_t end = std::min(j + kChunk, n);
    int any = 0;
#pragma omp simd reduction(| : any)
    for (int64_t c = j; c < end; ++c) any |= g[c] + norm_plus[c] < top;
    if (!any) continue;
    for (int64_t c = j; c < end; ++c) {
      if (c == skip) continue;
      const float upper = g[c] + norm_plus[c];
      if (!(upper < top)) continue;
      if (heap.size() < k) {
        heap.push_back(upper);
        std::push_heap(heap.begin(), heap.end());
        if (heap.size() == k) top = heap.front();
      } else {
        std::pop_heap(heap.begin(), heap.end());
        heap.back() = upper;
        std::push_heap(heap.begin(), heap.end());
        top = heap.front();
      }
    }
  }
  return heap.size() < k ? INFINITY : heap.front();
}

namespace {

// Calls visit(j, g_j + norm_minus_j) in ascending j for every j whose value is at most
// max(threshold, pair_limit) (and for others in the same chunk of 32: visit tests again); visit may
// lower pair_limit (taken by reference). The chunks are checked with wide vectors first.
template <class Visit>
void scan_candidates(const float* g, const float* norm_minus, int64_t n, float threshold, const float& pair_limit,
                     Visit&& visit) {
  constexpr int64_t kChunk = 32;
  for (int64_t j = 0; j < n; j += kChunk) {
    const int64_t end = std::min(j + kChunk, n);
    const float either = std::max(threshold, pair_limit);
    int any = 0;
#pragma omp simd reduction(| : any)
    for (int64_t c = j; c < end; ++c) any |= g[c] + norm_minus[c] <= either;
    if (!any) continue;
    for (int64_t c = j; c < end; ++c) visit(c, g[c] + norm_minus[c]);
  }
}

}  // namespace

void process_row(const RowJob& job, const TiledSearch& s, NeighbourLists& out, double* exact_dist, SmallestPairs* pairs,
                 RowScratch& scratch) {
  std::vector<float>& heap_buf = scratch.heap;
  std::vector<int32_t>& cand = scratch.candidates;
  TopK& top = scratch.top;
  const RowMatrix& base = s.base;
  const int64_t nb = base.rows, d = base.cols;
  const float* norm_plus = s.prepared_base->norm_plus.get();
  const float* norm_minus = s.prepared_base->norm_minus.get();
  const float* qrow = s.queries.row(job.query);
  const int64_t available = nb - (job.skip >= 0 ? 1 : 0);
  const size_t kk = static_cast<size_t>(std::min<int64_t>(s.options.k, available));
  cand.clear();
  // Candidate j: lower bound n_i - s_i + g_j + n_j - s_j <= tau_i = n_i + s_i + h, i.e.
  // g_j + norm_minus_j <= h + 2 s_i.
  float threshold = -INFINITY;
  if (kk > 0) {
    // A caller's limit L on the exact distance: candidate j needs n_i - s_i + g_j + n_j - s_j <= L.
    float limit_threshold = INFINITY, cap = INFINITY;
    if (!s.query_limits.empty() && std::isfinite(s.query_limits[static_cast<size_t>(job.query)])) {
      limit_threshold = round_up(s.query_limits[static_cast<size_t>(job.query)] - static_cast<double>(job.norm_minus));
      // An h at or above cap gives a threshold at or above limit_threshold (rounding is monotone and
      // cap + 2 s_i >= limit_threshold), so only uppers below cap can change the threshold.
      cap = round_up(static_cast<double>(limit_threshold) - 2.0 * job.slack);
    }
    const float h = kth_smallest_upper(job.g, norm_plus, nb, job.skip, kk, cap, heap_buf, scratch.minima);
    threshold = std::min(round_up(static_cast<double>(h) + 2.0 * job.slack), limit_threshold);
  }
  const bool feed_pairs = pairs != nullptr && pairs->capacity > 0;
  // Pair (i, j) is worth measuring when its lower bound job.norm_minus + g_j + norm_minus_j is at most
  // the largest distance held.
  auto pair_threshold = [&] {
    return pairs->full() ? round_up(pairs->largest() - job.norm_minus) : INFINITY;
  };
  float pair_limit = feed_pairs ? pair_threshold() : -INFINITY;
  scan_candidates(job.g, norm_minus, nb, threshold, pair_limit, [&](int64_t j, float lower_part) {
    if (lower_part <= threshold && j != job.skip) cand.push_back(static_cast<int32_t>(j));
    if (feed_pairs && lower_part <= pair_limit && j > job.query && s.groups[j] != s.groups[job.query]) {
      const double dist = exact_sqdist(qrow, base.row(j), d);
      if (dist > 0) {
        pairs->offer(dist, job.query, j);
        pair_limit = pair_threshold();
      }
    }
  });
  top.reset(kk);
  rank_candidates(qrow, base, cand, top, scratch.rerank);
  int32_t* ids = out.ids.data() + job.query * out.k;
  float* dist = out.dist.data() + job.query * out.k;
  for (size_t t = 0; t < static_cast<size_t>(out.k); ++t) {
    ids[t] = t < top.best.size() ? top.best[t].j : -1;
    dist[t] = t < top.best.size() ? static_cast<float>(top.best[t].d) : NeighbourLists::kEmpty;
    if (exact_dist) exact_dist[job.query * out.k + static_cast<int64_t>(t)] = t < top.best.size() ? top.best[t].d : INFINITY;
  }
}

}  // namespace dq::detail
