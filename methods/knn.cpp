// Exact k-nearest-neighbour search in tiles, plus the smallest pair distances for lambda_C.
//
// Each tile is a float32 block of -2 <c_i, c_j> from one GEMM over centred rows c (distances do not
// change when every row moves by the same mean; the norms, and with them the rounding error, shrink).
// With n_i = |c_i|^2 the float distance a_ij = n_i + n_j - 2 <c_i, c_j> is not exact: it can reorder
// near-ties and does not give exactly zero for duplicates. So a tile only nominates candidates:
// standard floating-point bounds (any summation order of a d-term dot product errs by at most
// gamma_d times the sum of magnitudes; likewise the centring and the norms) give
// |a_ij - d_ij| <= delta (n_i + n_j) with delta = gamma(2d + 16). Writing s_i = delta n_i, the true k
// nearest of row i all satisfy a_ij - s_j - s_i <= tau_i, where tau_i is the k-th smallest
// a_ij + s_j + s_i. Those candidates are measured with exact_sqdist and ranked by (distance, index).
// The same bounds let the pair heap for lambda_C skip every pair whose lower bound already exceeds
// the 50th smallest distance found so far.
#include <dlfcn.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <numeric>
#include <optional>
#include <queue>

#include "core/error.h"
#include "methods/knn.h"
#include "methods/knn_internal.h"

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
// machine and in both clones (AVX2 where the CPU has it, SSE2 otherwise; neither contracts to FMA).
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

namespace detail {

double gemm_error_factor(int64_t d) {
  const double g = (2.0 * static_cast<double>(d) + 16.0) * 0x1p-24;
  return 1.05 * g / (1.0 - g);  // 5% headroom for the float comparisons made with the bound
}

PreparedRows prepare_rows(RowMatrix z, const float* mean, MemoryBudget& memory, const char* what) {
  PreparedRows out;
  out.reservation = memory.reserve(static_cast<uint64_t>(z.rows) * static_cast<uint64_t>(z.cols + 3) * sizeof(float), what);
  out.rows = z.rows;
  out.cols = z.cols;
  // Not zero-filled: every element is written below, and zeroing hundreds of MB costs a pass.
  out.centred.reset(new float[static_cast<size_t>(z.rows * z.cols)]);
  out.norm_plus.reset(new float[static_cast<size_t>(z.rows)]);
  out.norm_minus.reset(new float[static_cast<size_t>(z.rows)]);
  out.slack.reset(new float[static_cast<size_t>(z.rows)]);
  const double factor = gemm_error_factor(z.cols);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < z.rows; ++i) {
    float* c = out.centred.get() + i * z.cols;
    double norm = 0;
    for (int64_t k = 0; k < z.cols; ++k) {
      c[k] = z.row(i)[k] - mean[k];
      norm += static_cast<double>(c[k]) * c[k];
    }
    // Rounded outwards so that the float comparisons below never shrink the margin.
    const double slack = factor * norm;
    out.slack[static_cast<size_t>(i)] = std::nextafter(static_cast<float>(slack), INFINITY);
    out.norm_plus[static_cast<size_t>(i)] = std::nextafter(static_cast<float>(norm + slack), INFINITY);
    out.norm_minus[static_cast<size_t>(i)] = std::nextafter(static_cast<float>(norm - slack), -INFINITY);
  }
  return out;
}

PreparedRows gather_rows(const PreparedRows& from, std::span<const int64_t> rows, MemoryBudget& memory, const char* what) {
  PreparedRows out;
  const auto n = static_cast<int64_t>(rows.size());
  out.reservation = memory.reserve(static_cast<uint64_t>(n) * static_cast<uint64_t>(from.cols + 3) * sizeof(float), what);
  out.rows = n;
  out.cols = from.cols;
  out.centred.reset(new float[static_cast<size_t>(n * from.cols)]);
  out.norm_plus.reset(new float[static_cast<size_t>(n)]);
  out.norm_minus.reset(new float[static_cast<size_t>(n)]);
  out.slack.reset(new float[static_cast<size_t>(n)]);
  for (int64_t t = 0; t < n; ++t) {
    const int64_t r = rows[static_cast<size_t>(t)];
    std::copy_n(from.centred.get() + r * from.cols, from.cols, out.centred.get() + t * from.cols);
    out.norm_plus[static_cast<size_t>(t)] = from.norm_plus[static_cast<size_t>(r)];
    out.norm_minus[static_cast<size_t>(t)] = from.norm_minus[static_cast<size_t>(r)];
    out.slack[static_cast<size_t>(t)] = from.slack[static_cast<size_t>(r)];
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

namespace {
using BlasThreadsGet = int (*)();
using BlasThreadsSet = void (*)(int);
}  // namespace

// Looked up at run time so that nothing breaks when the process's BLAS is not OpenBLAS.
SingleThreadedBlas::SingleThreadedBlas() {
  auto get = reinterpret_cast<BlasThreadsGet>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  auto set = reinterpret_cast<BlasThreadsSet>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (get && set) {
    saved_ = get();
    set(1);
  }
}

SingleThreadedBlas::~SingleThreadedBlas() {
  if (saved_ > 0)
    if (auto set = reinterpret_cast<BlasThreadsSet>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(saved_);
}

NeighbourLists empty_lists(int64_t n, int64_t k, MemoryBudget& memory, MemoryBudget::Reservation& reservation) {
  reservation = memory.reserve(static_cast<uint64_t>(n * k) * (sizeof(int32_t) + sizeof(float)), "knn lists");
  NeighbourLists lists;
  lists.n = n;
  lists.k = k;
  lists.ids.assign(static_cast<size_t>(n * k), -1);
  lists.dist.assign(static_cast<size_t>(n * k), NeighbourLists::kEmpty);
  return lists;
}

int64_t count_duplicates(const std::vector<int32_t>& groups) {
  int64_t count = 0;
  for (size_t i = 0; i < groups.size(); ++i) count += groups[i] != static_cast<int32_t>(i);
  return count;
}

ApproximateStart start_approximate(RowMatrix z, int64_t k, MemoryBudget& memory) {
  ApproximateStart start;
  start.groups = duplicate_groups(z);
  start.result.pairs_exact = false;
  start.result.duplicates = count_duplicates(start.groups);
  start.result.lists = empty_lists(z.rows, k, memory, start.lists_reservation);
  return start;
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

using detail::PreparedRows;
using detail::SingleThreadedBlas;
using detail::TiledSearch;
using detail::TopK;

// BLAS (Fortran interface, 32-bit integers, as Debian's OpenBLAS and FAISS use it).
extern "C" int sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
                      const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
                      const int* ldc);

// tile (nq x nb, row-major) = -2 * Q * B^T.
void minus_two_inner_products(const float* q, int64_t nq, const float* b, int64_t nb, int64_t d, float* tile) {
  DQ_ASSERT(nb < std::numeric_limits<int>::max() && d < std::numeric_limits<int>::max() &&
                nq * nb < std::numeric_limits<int>::max() * int64_t{64},
            "GEMM dimensions exceed the BLAS integer range");
  const int m = static_cast<int>(nb), n = static_cast<int>(nq), k = static_cast<int>(d);
  const float alpha = -2.0f, beta = 0.0f;
  // Column-major view: tile^T (nb x nq) = B (nb x d, i.e. B^T stored) * Q^T.
  sgemm_("T", "N", &m, &n, &k, &alpha, b, &k, q, &k, &beta, tile, &m);
}

// Largest value among the k smallest of g_j + norm_plus_j (j != skip): the k-th smallest upper bound
// on d_ij, less the row's own n_i + s_i.
float kth_smallest_upper(const float* g, const float* norm_plus, int64_t n, int64_t skip, size_t k, std::vector<float>& heap) {
  heap.clear();
  for (int64_t j = 0; j < n; ++j) {
    if (j == skip) continue;
    const float upper = g[j] + norm_plus[j];
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
  bool full() const { return heap.size() >= capacity; }
  void offer(double d) {
    if (heap.size() < capacity) heap.push(d);
    else if (d < heap.top()) {
      heap.pop();
      heap.push(d);
    }
  }
};

struct RowJob {
  const float* g;          // -2 <c_i, c_j> for j in [0, nb)
  int64_t query;           // row index among the queries
  int64_t skip;            // base index to exclude, or -1
  float norm_minus, slack; // the query row's n_i - s_i and s_i
};

// Ranks the candidates of one query row exactly and writes its list; optionally feeds the pair heap
// (self-search only: pairs (i, j) with j > i in different duplicate groups).
void process_row(const RowJob& job, const TiledSearch& s, NeighbourLists& out, PairHeap* pairs,
                 std::vector<float>& heap_buf, std::vector<int32_t>& cand, TopK& top) {
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
    const float h = kth_smallest_upper(job.g, norm_plus, nb, job.skip, kk, heap_buf);
    threshold = std::nextafter(static_cast<float>(static_cast<double>(h) + 2.0 * job.slack), INFINITY);
  }
  const bool feed_pairs = pairs != nullptr && pairs->capacity > 0;
  // Pair (i, j) is worth measuring when its lower bound job.norm_minus + g_j + norm_minus_j is at most
  // the current heap maximum.
  auto pair_threshold = [&] {
    return pairs->full() ? std::nextafter(static_cast<float>(pairs->heap.top() - job.norm_minus), INFINITY) : INFINITY;
  };
  float pair_limit = feed_pairs ? pair_threshold() : -INFINITY;
  for (int64_t j = 0; j < nb; ++j) {
    const float lower_part = job.g[j] + norm_minus[j];
    if (lower_part <= threshold && j != job.skip) cand.push_back(static_cast<int32_t>(j));
    if (feed_pairs && lower_part <= pair_limit && j > job.query && s.groups[j] != s.groups[job.query]) {
      const double dist = exact_sqdist(qrow, base.row(j), d);
      if (dist > 0) {
        pairs->offer(dist);
        pair_limit = pair_threshold();
      }
    }
  }
  top.reset(kk);
  for (int32_t j : cand) {
    // Candidates arrive in increasing index, so once k exact zeros are held nothing can displace them.
    if (top.full_of_zeros()) break;
    top.offer(exact_sqdist(qrow, base.row(j), d), j);
  }
  int32_t* ids = out.ids.data() + job.query * out.k;
  float* dist = out.dist.data() + job.query * out.k;
  for (size_t t = 0; t < static_cast<size_t>(out.k); ++t) {
    ids[t] = t < top.best.size() ? top.best[t].j : -1;
    dist[t] = t < top.best.size() ? static_cast<float>(top.best[t].d) : NeighbourLists::kEmpty;
  }
}

int64_t tile_rows(int64_t nq, int64_t nb, uint64_t tile_bytes, int threads) {
  const int64_t by_budget = static_cast<int64_t>(tile_bytes / (static_cast<uint64_t>(std::max<int64_t>(nb, 1)) * sizeof(float)));
  // At most 2048 query rows per tile (large enough for GEMM efficiency; for classes bigger than that a
  // tile is never the full square matrix), and a multiple of `threads` tiles of equal size, so that
  // no thread idles while another finishes a last tile.
  const int64_t max_rows = std::clamp<int64_t>(by_budget, 1, 2048);
  const int64_t rounds = (nq + threads * max_rows - 1) / (threads * max_rows);
  const int64_t tiles = threads * rounds;
  return std::max<int64_t>(1, (nq + tiles - 1) / tiles);
}

}  // namespace

namespace detail {

SearchOutput tiled_search(const TiledSearch& s, MemoryBudget& memory) {
  const int64_t nq = s.queries.rows, nb = s.base.rows, d = s.base.cols;
  DQ_ASSERT(s.queries.cols == d && s.prepared_base && s.prepared_base->rows == nb, "search inputs disagree");
  DQ_ASSERT(s.prepared_queries ? s.prepared_queries->rows == nq : s.base_mean != nullptr, "queries need preparing");
  DQ_ASSERT(s.self_in_base.empty() || static_cast<int64_t>(s.self_in_base.size()) == nq, "one self entry per query");
  DQ_ASSERT(nb < std::numeric_limits<int32_t>::max(), "base too large for int32 ids");
  SearchOutput result;
  MemoryBudget::Reservation list_reservation;  // held while searching; callers that keep the lists reserve again
  result.lists = empty_lists(nq, s.options.k, memory, list_reservation);
  if (nq == 0 || nb == 0) return result;

  // Each thread computes whole tiles (its own single-threaded GEMM, then its rows): no hand-over
  // between a BLAS thread pool and the row passes, which on a busy machine costs as much as the
  // GEMM. Inside an enclosing parallel region (clustered search) the search runs on one thread.
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t rows_per_tile = tile_rows(nq, nb, s.options.tile_bytes / static_cast<uint64_t>(threads), threads);
  const int64_t tiles = (nq + rows_per_tile - 1) / rows_per_tile;
  const int workers = static_cast<int>(std::min<int64_t>(threads, tiles));
  auto tile_reservation = memory.reserve(
      static_cast<uint64_t>(workers) * static_cast<uint64_t>(rows_per_tile * nb) * sizeof(float), "knn distance tiles");
  std::vector<PairHeap> heaps(static_cast<size_t>(workers));
  for (auto& h : heaps) h.capacity = s.self_search ? static_cast<size_t>(s.pairs) : 0;
  std::optional<SingleThreadedBlas> single_threaded_blas;
  if (workers > 1) single_threaded_blas.emplace();
  std::exception_ptr failure;  // exceptions must not cross the OpenMP region: rethrown after it

#pragma omp parallel num_threads(workers)
  {
    const std::unique_ptr<float[]> tile(new float[static_cast<size_t>(rows_per_tile * nb)]);  // GEMM overwrites it
    std::vector<float> heap_buf;
    std::vector<int32_t> cand;
    TopK top;
    PairHeap* pairs = s.self_search ? &heaps[static_cast<size_t>(omp_get_thread_num())] : nullptr;
    // Rows are independent and every list is exact, so the schedule cannot change the output.
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tiles; ++t) {
      try {
        const int64_t r0 = t * rows_per_tile, nr = std::min(rows_per_tile, nq - r0);
        PreparedRows query_tile;
        const PreparedRows* q = s.prepared_queries;
        int64_t q0 = r0;  // first row of this tile within *q
        if (!q) {
          query_tile = prepare_rows(RowMatrix{s.queries.row(r0), nr, d}, s.base_mean, memory, "knn query tile");
          q = &query_tile;
          q0 = 0;
        }
        minus_two_inner_products(q->centred.get() + q0 * d, nr, s.prepared_base->centred.get(), nb, d, tile.get());
        for (int64_t r = 0; r < nr; ++r) {
          const int64_t i = r0 + r;
          int64_t skip = -1;
          if (s.self_search) skip = i;
          else if (!s.self_in_base.empty()) skip = s.self_in_base[static_cast<size_t>(i)];
          const RowJob job{tile.get() + r * nb, i, skip, q->norm_minus[static_cast<size_t>(q0 + r)],
                           q->slack[static_cast<size_t>(q0 + r)]};
          process_row(job, s, result.lists, pairs, heap_buf, cand, top);
        }
      } catch (...) {
#pragma omp critical(dq_tiled_failure)
        if (!failure) failure = std::current_exception();
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
  // The union of the per-thread heaps holds every pair among the overall smallest: the multiset of
  // the smallest values is unique, whichever thread saw which row.
  for (auto& h : heaps)
    for (; !h.heap.empty(); h.heap.pop()) result.smallest_pairs.push_back(h.heap.top());
  std::sort(result.smallest_pairs.begin(), result.smallest_pairs.end());
  if (result.smallest_pairs.size() > static_cast<size_t>(s.pairs)) result.smallest_pairs.resize(static_cast<size_t>(s.pairs));
  return result;
}

}  // namespace detail

NeighbourLists exact_knn(RowMatrix queries, RowMatrix base, std::span<const int64_t> self_in_base,
                         const ExactSearchOptions& options, MemoryBudget& memory) {
  const std::vector<float> mean = detail::column_mean(base);
  const detail::PreparedRows prepared = detail::prepare_rows(base, mean.data(), memory, "knn centred base");
  detail::TiledSearch s;
  s.queries = queries;
  s.base = base;
  s.prepared_base = &prepared;
  s.base_mean = mean.data();
  s.self_in_base = self_in_base;
  s.options = options;
  return detail::tiled_search(s, memory).lists;
}

SelfKnnResult exact_self_knn(RowMatrix z, int64_t pairs, const ExactSearchOptions& options, MemoryBudget& memory) {
  const std::vector<int32_t> groups = duplicate_groups(z);
  const std::vector<float> mean = detail::column_mean(z);
  const detail::PreparedRows prepared = detail::prepare_rows(z, mean.data(), memory, "knn centred rows");
  detail::TiledSearch s;
  s.queries = z;
  s.base = z;
  s.prepared_queries = &prepared;
  s.prepared_base = &prepared;
  s.self_search = true;
  s.groups = groups.data();
  s.pairs = pairs;
  s.options = options;
  detail::SearchOutput t = detail::tiled_search(s, memory);
  SelfKnnResult out;
  out.lists = std::move(t.lists);
  out.smallest_pairs = std::move(t.smallest_pairs);
  out.duplicates = detail::count_duplicates(groups);
  return out;
}

}  // namespace dq
