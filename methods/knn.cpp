// Exact k-nearest-neighbour search in tiles, plus the smallest pair distances for lambda_C.
//
// Each tile is a float32 block of approximate squared distances from FAISS's pairwise_L2sqr (norms
// plus one OpenBLAS GEMM). Float GEMM distances are not exact: they can reorder near-ties and do not
// give exactly zero for duplicates. So a tile only nominates candidates. With c_i the centred rows
// and n_i = |c_i|^2, the GEMM value a_ij satisfies |a_ij - d_ij| <= delta * (n_i + n_j), with
// delta = gamma(2d + 16) (standard floating-point bounds: any summation order of a d-term dot
// product errs by at most gamma_d times the sum of magnitudes, and the norms likewise). Writing
// s_i = delta * n_i, the true k nearest of row i all satisfy a_ij - s_j - s_i <= tau_i, where tau_i is
// the k-th smallest a_ij + s_j + s_i. Those candidates are then measured with exact_sqdist and
// ranked by (distance, index). The same bounds let the pair heap for lambda_C skip every pair whose
// lower bound already exceeds the 50th smallest distance found so far.
#include <faiss/utils/distances.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>
#include <queue>

#include "core/error.h"
#include "methods/knn.h"
#include "methods/knn_internal.h"

namespace dq {

double exact_sqdist(const float* a, const float* b, int64_t d) {
  // Four partial sums for instruction-level parallelism; the order is fixed, so the value is too.
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t k = 0;
  for (; k + 4 <= d; k += 4) {
    const double e0 = static_cast<double>(a[k]) - b[k];
    const double e1 = static_cast<double>(a[k + 1]) - b[k + 1];
    const double e2 = static_cast<double>(a[k + 2]) - b[k + 2];
    const double e3 = static_cast<double>(a[k + 3]) - b[k + 3];
    s0 += e0 * e0;
    s1 += e1 * e1;
    s2 += e2 * e2;
    s3 += e3 * e3;
  }
  for (; k < d; ++k) {
    const double e = static_cast<double>(a[k]) - b[k];
    s0 += e * e;
  }
  return (s0 + s1) + (s2 + s3);
}

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
  if (first_bad < n) throw Error(fmt::format("embedding row {} has a NaN or infinite value", first_bad));

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

namespace detail {

double gemm_error_factor(int64_t d) {
  const double g = (2.0 * static_cast<double>(d) + 16.0) * 0x1p-24;
  return 1.05 * g / (1.0 - g);  // 5% headroom for the float comparisons made with the bound
}

CentredRows centre_rows(RowMatrix z, const float* mean, MemoryBudget& memory, const char* what) {
  CentredRows out;
  out.reservation = memory.reserve(static_cast<uint64_t>(z.rows) * static_cast<uint64_t>(z.cols + 1) * sizeof(float), what);
  out.rows.resize(static_cast<size_t>(z.rows * z.cols));
  out.slack.resize(static_cast<size_t>(z.rows));
  const double factor = gemm_error_factor(z.cols);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < z.rows; ++i) {
    float* c = out.rows.data() + i * z.cols;
    double norm = 0;
    for (int64_t k = 0; k < z.cols; ++k) {
      c[k] = z.row(i)[k] - mean[k];
      norm += static_cast<double>(c[k]) * c[k];
    }
    // Rounded up so that the float comparisons below never shrink the margin.
    out.slack[static_cast<size_t>(i)] = std::nextafter(static_cast<float>(factor * norm), INFINITY);
  }
  return out;
}

std::vector<float> column_mean(RowMatrix z) {
  std::vector<double> sum(static_cast<size_t>(z.cols), 0.0);
  for (int64_t i = 0; i < z.rows; ++i)
    for (int64_t k = 0; k < z.cols; ++k) sum[static_cast<size_t>(k)] += z.row(i)[k];
  std::vector<float> mean(sum.size());
  for (size_t k = 0; k < sum.size(); ++k) mean[k] = z.rows ? static_cast<float>(sum[k] / static_cast<double>(z.rows)) : 0.0f;
  return mean;
}

void TopK::offer(double d, int32_t j) {
  auto before = [](const Neighbour& a, const Neighbour& b) { return a.d < b.d || (a.d == b.d && a.j < b.j); };
  if (k == 0) return;
  const Neighbour c{d, j};
  if (best.size() == k) {
    if (!before(c, best.back())) return;
    best.pop_back();
  }
  best.insert(std::upper_bound(best.begin(), best.end(), c, before), c);
}

}  // namespace detail

namespace {

using detail::CentredRows;
using detail::TopK;

// Largest value among the k smallest of a_j + slack_j (j != skip): the k-th smallest upper bound.
float kth_smallest_upper(const float* a, const float* slack, int64_t n, int64_t skip, size_t k, std::vector<float>& heap) {
  heap.clear();
  for (int64_t j = 0; j < n; ++j) {
    if (j == skip) continue;
    const float upper = a[j] + slack[j];
    if (heap.size() < k) {
      heap.push_back(upper);
      std::push_heap(heap.begin(), heap.end());
    } else if (upper < heap.front()) {
      std::pop_heap(heap.begin(), heap.end());
      heap.back() = upper;
      std::push_heap(heap.begin(), heap.end());
    }
  }
  return heap.front();
}

// The smallest non-zero pair distances seen by one thread (max-heap, bounded).
struct PairHeap {
  size_t capacity = 0;
  std::priority_queue<double> heap;
  bool wants(float lower_bound) const { return heap.size() < capacity || lower_bound <= heap.top(); }
  void offer(double d) {
    if (heap.size() < capacity) heap.push(d);
    else if (d < heap.top()) {
      heap.pop();
      heap.push(d);
    }
  }
};

// What one search needs besides the tile: the original rows (for exact distances) and the slack
// terms of the centred rows.
struct SearchSide {
  RowMatrix original;
  const float* slack = nullptr;
};

struct RowJob {
  const float* approx;      // a_ij for j in [0, nb)
  int64_t query;            // row index among the queries
  int64_t skip;             // base index to exclude, or -1
  float query_slack;
};

// Ranks the candidates of one query row exactly and writes its list; optionally feeds the pair heap
// (self-search only: pairs (i, j) with j > i in different duplicate groups).
void process_row(const RowJob& job, const SearchSide& q, const SearchSide& b, size_t k, NeighbourLists& out,
                 const int32_t* groups, PairHeap* pairs, std::vector<float>& heap_buf, std::vector<int32_t>& cand,
                 TopK& top) {
  const int64_t nb = b.original.rows, d = b.original.cols;
  const float* qrow = q.original.row(job.query);
  const int64_t available = nb - (job.skip >= 0 ? 1 : 0);
  const size_t kk = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(k), available));
  cand.clear();
  float threshold = -INFINITY;
  if (kk > 0) {
    const float tau = kth_smallest_upper(job.approx, b.slack, nb, job.skip, kk, heap_buf);
    threshold = std::nextafter(tau + 2.0f * job.query_slack, INFINITY);
  }
  const bool feed_pairs = pairs != nullptr && pairs->capacity > 0;
  for (int64_t j = 0; j < nb; ++j) {
    const float lower_plus_si = job.approx[j] - b.slack[j];  // lower bound + s_i
    if (j != job.skip && lower_plus_si <= threshold) cand.push_back(static_cast<int32_t>(j));
    if (feed_pairs && j > job.query && groups[j] != groups[job.query] &&
        pairs->wants(lower_plus_si - job.query_slack)) {
      const double dist = exact_sqdist(qrow, b.original.row(j), d);
      if (dist > 0) pairs->offer(dist);
    }
  }
  top.reset(kk);
  for (int32_t j : cand) {
    // Candidates arrive in increasing index, so once k exact zeros are held nothing can displace them.
    if (top.full_of_zeros()) break;
    top.offer(exact_sqdist(qrow, b.original.row(j), d), j);
  }
  int32_t* ids = out.ids.data() + job.query * out.k;
  float* dist = out.dist.data() + job.query * out.k;
  for (size_t t = 0; t < static_cast<size_t>(out.k); ++t) {
    ids[t] = t < top.best.size() ? top.best[t].j : -1;
    dist[t] = t < top.best.size() ? static_cast<float>(top.best[t].d) : NeighbourLists::kEmpty;
  }
}

NeighbourLists make_lists(int64_t n, int64_t k, MemoryBudget& memory, MemoryBudget::Reservation& reservation) {
  reservation = memory.reserve(static_cast<uint64_t>(n * k) * (sizeof(int32_t) + sizeof(float)), "knn lists");
  NeighbourLists lists;
  lists.n = n;
  lists.k = k;
  lists.ids.assign(static_cast<size_t>(n * k), -1);
  lists.dist.assign(static_cast<size_t>(n * k), NeighbourLists::kEmpty);
  return lists;
}

int64_t tile_rows(int64_t nq, int64_t nb, uint64_t tile_bytes) {
  const int64_t by_budget = static_cast<int64_t>(tile_bytes / (static_cast<uint64_t>(std::max<int64_t>(nb, 1)) * sizeof(float)));
  // At most 2048 query rows per tile: large enough for GEMM efficiency, and for classes bigger than
  // that the tile is never the full square matrix.
  return std::clamp<int64_t>(std::min(by_budget, nq), 1, 2048);
}

// Shared driver: queries against base, tile by tile. `self_search` means queries == base (row i is
// base row i), which enables the pair heap.
struct TiledSearch {
  RowMatrix queries, base;
  std::span<const int64_t> self_in_base;
  bool self_search = false;
  const int32_t* groups = nullptr;
  int64_t pairs = 0;
  ExactSearchOptions options;
};

struct TiledResult {
  NeighbourLists lists;
  std::vector<double> smallest_pairs;
};

TiledResult run_tiled(const TiledSearch& s, MemoryBudget& memory) {
  const int64_t nq = s.queries.rows, nb = s.base.rows, d = s.base.cols;
  DQ_ASSERT(s.queries.cols == d, "query and base dimensions differ");
  DQ_ASSERT(nb < std::numeric_limits<int32_t>::max(), "base too large for int32 ids");
  TiledResult result;
  MemoryBudget::Reservation list_reservation;  // held while searching; callers that keep the lists reserve again
  result.lists = make_lists(nq, s.options.k, memory, list_reservation);
  if (nq == 0 || nb == 0) return result;

  const std::vector<float> mean = detail::column_mean(s.base);
  const CentredRows cbase = detail::centre_rows(s.base, mean.data(), memory, "knn centred base");
  const int64_t rows_per_tile = tile_rows(nq, nb, s.options.tile_bytes);
  auto tile_reservation = memory.reserve(static_cast<uint64_t>(rows_per_tile * nb) * sizeof(float), "knn distance tile");
  std::vector<float> tile(static_cast<size_t>(rows_per_tile * nb));

  const int threads = omp_get_max_threads();
  std::vector<PairHeap> heaps(static_cast<size_t>(threads));
  for (auto& h : heaps) h.capacity = s.self_search ? static_cast<size_t>(s.pairs) : 0;

  const SearchSide base_side{s.base, cbase.slack.data()};
  for (int64_t r0 = 0; r0 < nq; r0 += rows_per_tile) {
    const int64_t nr = std::min(rows_per_tile, nq - r0);
    CentredRows cq_tile;
    const float* cq = nullptr;
    const float* q_slack = nullptr;
    if (s.self_search) {
      cq = cbase.rows.data() + r0 * d;
      q_slack = cbase.slack.data() + r0;
    } else {
      cq_tile = detail::centre_rows(RowMatrix{s.queries.row(r0), nr, d}, mean.data(), memory, "knn query tile");
      cq = cq_tile.rows.data();
      q_slack = cq_tile.slack.data();
    }
    faiss::pairwise_L2sqr(d, nr, cq, nb, cbase.rows.data(), tile.data());
    const SearchSide query_side{s.queries, nullptr};
#pragma omp parallel
    {
      std::vector<float> heap_buf;
      std::vector<int32_t> cand;
      TopK top;
      PairHeap* pairs = s.self_search ? &heaps[static_cast<size_t>(omp_get_thread_num())] : nullptr;
      // Rows are independent and every list is exact, so the schedule cannot change the output.
#pragma omp for schedule(dynamic, 8)
      for (int64_t r = 0; r < nr; ++r) {
        const int64_t i = r0 + r;
        int64_t skip = -1;
        if (s.self_search) skip = i;
        else if (!s.self_in_base.empty()) skip = s.self_in_base[static_cast<size_t>(i)];
        const RowJob job{tile.data() + r * nb, i, skip, q_slack[r]};
        process_row(job, query_side, base_side, static_cast<size_t>(s.options.k), result.lists, s.groups, pairs,
                    heap_buf, cand, top);
      }
    }
  }
  // The union of the per-thread heaps holds every pair among the overall smallest: the multiset of
  // the smallest values is unique, whichever thread saw which row.
  for (auto& h : heaps)
    for (; !h.heap.empty(); h.heap.pop()) result.smallest_pairs.push_back(h.heap.top());
  std::sort(result.smallest_pairs.begin(), result.smallest_pairs.end());
  if (result.smallest_pairs.size() > static_cast<size_t>(s.pairs)) result.smallest_pairs.resize(static_cast<size_t>(s.pairs));
  return result;
}

}  // namespace

NeighbourLists exact_knn(RowMatrix queries, RowMatrix base, std::span<const int64_t> self_in_base,
                         const ExactSearchOptions& options, MemoryBudget& memory) {
  DQ_ASSERT(self_in_base.empty() || static_cast<int64_t>(self_in_base.size()) == queries.rows,
            "self_in_base must have one entry per query");
  TiledSearch s{queries, base, self_in_base, false, nullptr, 0, options};
  return run_tiled(s, memory).lists;
}

SelfKnnResult exact_self_knn(RowMatrix z, int64_t pairs, const ExactSearchOptions& options, MemoryBudget& memory) {
  const std::vector<int32_t> groups = duplicate_groups(z);
  TiledSearch s{z, z, {}, true, groups.data(), pairs, options};
  TiledResult t = run_tiled(s, memory);
  SelfKnnResult out;
  out.lists = std::move(t.lists);
  out.smallest_pairs = std::move(t.smallest_pairs);
  for (size_t i = 0; i < groups.size(); ++i) out.duplicates += groups[i] != static_cast<int32_t>(i);
  return out;
}

}  // namespace dq
