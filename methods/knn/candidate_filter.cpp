// One row of a float distance tile -> its exact k nearest (nomination.cpp proves the bound): the k-th
// smallest upper bound sets a threshold, every base row whose lower bound passes it is a candidate,
// and the candidates are ranked exactly (rerank.cpp). Pairs for lambda_C are filtered the same way.
#include <algorithm>
#include <cmath>

#include "methods/knn/internal/float_steps.h"
#include "methods/knn/internal/rerank.h"
#include "methods/knn/internal/tiled_search.h"

namespace dq::detail {
namespace {

// Largest value among the k smallest of g_j + norm_plus_j (j != skip): the k-th smallest upper bound
// on d_ij, less the row's own n_i + s_i; +infinity when fewer than k of them are below `cap` (the
// caller then needs no bound below cap). Chunks of the row are checked against the heap's top (cap
// until the heap is full) with wide vectors (the clones: most chunks hold nothing smaller), and only
// chunks that do are walked one by one. A row with a tight cap (its limit from cells searched before)
// skips most of its chunks and most heap work.
__attribute__((target_clones("avx512f", "avx2", "default"))) float kth_smallest_upper(const float* g, const float* norm_plus,
                                                                                       int64_t n, int64_t skip, size_t k,
                                                                                       float cap, std::vector<float>& heap) {
  heap.clear();
  float top = cap;
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
    const float h = kth_smallest_upper(job.g, norm_plus, nb, job.skip, kk, cap, heap_buf);
    threshold = std::min(round_up(static_cast<double>(h) + 2.0 * job.slack), limit_threshold);
  }
  const bool feed_pairs = pairs != nullptr && pairs->capacity > 0;
  // Pair (i, j) is worth measuring when its lower bound job.norm_minus + g_j + norm_minus_j is at most
  // the largest distance held.
  auto pair_threshold = [&] {
    return pairs->full() ? round_up(pairs->largest() - job.norm_minus) : INFINITY;
  };
  float pair_limit = feed_pairs ? pair_threshold() : -INFINITY;
  for (int64_t j = 0; j < nb; ++j) {
    const float lower_part = job.g[j] + norm_minus[j];
    if (lower_part <= threshold && j != job.skip) cand.push_back(static_cast<int32_t>(j));
    if (feed_pairs && lower_part <= pair_limit && j > job.query && s.groups[j] != s.groups[job.query]) {
      const double dist = exact_sqdist(qrow, base.row(j), d);
      if (dist > 0) {
        pairs->offer(dist, job.query, j);
        pair_limit = pair_threshold();
      }
    }
  }
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
