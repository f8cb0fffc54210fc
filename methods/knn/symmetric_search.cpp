// Exact self-search over tile pairs (I, J) with J >= I: the GEMM measures each unordered pair of rows
// once, and the tile feeds both rows (row i's candidates from its tile row, row j's from its tile
// column): half the arithmetic of the one-sided search (tiled_search.cpp).
//
// The one-sided filter sees a row's whole tile row before choosing candidates: those whose lower
// bound (prepared_rows.cpp: a_ij less the proven GEMM error) is at most the k-th smallest upper
// bound, plus the slack. Here a row's values arrive over many tiles, so its limit streams: it is the
// smaller of the same bound over the columns seen so far and the k-th exact distance held (either
// is +inf until k are known). Both never fall below their final values, and those already admit
// every true neighbour, so every true neighbour passes when it is seen. A passing column is not
// measured at once: it waits in the row's buffer with its lower bound; a full buffer drops what the
// limit has since passed by, and is measured only if more than half of it is still under the limit;
// at the end the entries under the final limit are measured with exact_sqdist and ranked by
// (distance, index). The lists are therefore the k smallest (distance, index) over all rows, a
// full sort, whatever the order of the tiles; deferring keeps the exact measurements close to the
// one-sided search's instead of one per early "record".
//
// Schedule: the rows are cut into nb blocks. The diagonal tiles (I, I) come first; then a round-robin
// tournament (circle method) over the blocks: in each round the tiles (I, J) touch disjoint blocks,
// so no two threads ever update the same row, and the barrier after each round orders the updates.
// Memory: one block x block tile per thread and O(M k) row state; never an M x M buffer.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

#include "core/blas_threads.h"
#include "core/error.h"
#include "methods/knn/internal/tiled_search.h"

namespace dq::detail {
namespace {

// Per row: the k best (exact distance, index) measured so far, the k smallest upper bounds seen
// (a max-heap of g_ij + norm_plus_j), the waiting candidates, and the candidate limit: column j
// passes for row i when g_ij + norm_minus_j <= limit_i.
class RowState {
 public:
  // Waiting candidates per row before the buffer is measured: 4k keeps a row's exact measurements
  // near the one-sided count while the state stays O(M k).
  static constexpr int64_t kBufferPerK = 4;

  RowState(const TiledSearch& s, int64_t rows, int64_t kk)
      : s_(s),
        k_(kk),
        cap_(std::max<int64_t>(kk * kBufferPerK, 8)),
        best_d_(static_cast<size_t>(rows * kk)),
        best_j_(static_cast<size_t>(rows * kk)),
        held_(static_cast<size_t>(rows), 0),
        upper_(static_cast<size_t>(rows * kk)),
        uppers_(static_cast<size_t>(rows), 0),
        wait_lower_(static_cast<size_t>(rows * cap_)),
        wait_j_(static_cast<size_t>(rows * cap_)),
        waiting_(static_cast<size_t>(rows), 0),
        limit_(static_cast<size_t>(rows), kk > 0 ? INFINITY : -INFINITY) {
    if (!s.seeds) return;
    // Seeds: exact neighbours found beforehand (cell_seeds); ranked like any measured row, so the
    // limit starts at the seeds' k-th distance. measure() skips a seed when the tiles meet it again.
    DQ_ASSERT(s.seeds->k >= kk && static_cast<int64_t>(s.seeds->held.size()) == rows, "seeds for other rows");
    for (int64_t i = 0; i < rows; ++i)
      for (int32_t t = 0; t < s.seeds->held[static_cast<size_t>(i)]; ++t) {
        const Neighbour& nb = s.seeds->best[static_cast<size_t>(i * s.seeds->k + t)];
        rank(i, nb.d, nb.j);
      }
  }

  static uint64_t bytes(int64_t rows, int64_t kk) {
    const auto cap = static_cast<uint64_t>(std::max<int64_t>(kk * kBufferPerK, 8));
    return static_cast<uint64_t>(rows) * (static_cast<uint64_t>(kk) * (sizeof(double) + sizeof(int32_t) + sizeof(float)) +
                                          cap * (sizeof(float) + sizeof(int32_t)) + 3 * sizeof(int32_t) + sizeof(float));
  }

  const float* limits() const { return limit_.data(); }
  float limit(int64_t i) const { return limit_[static_cast<size_t>(i)]; }

  // Column j passed row i's limit with lower part g + norm_minus_j and upper part g + norm_plus_j.
  void admit(int64_t i, float lower, float upper, int32_t j, RerankScratch& scratch) {
    float* heap = upper_.data() + i * k_;
    int32_t& count = uppers_[static_cast<size_t>(i)];
    if (count < k_) {
      heap[count++] = upper;
      std::push_heap(heap, heap + count);
      if (count == k_) tighten(i);
    } else if (upper < heap[0]) {
      std::pop_heap(heap, heap + k_);
      heap[k_ - 1] = upper;
      std::push_heap(heap, heap + k_);
      tighten(i);
    }
    int32_t& n = waiting_[static_cast<size_t>(i)];
    wait_lower_[static_cast<size_t>(i * cap_ + n)] = lower;
    wait_j_[static_cast<size_t>(i * cap_ + n)] = j;
    if (++n == cap_) compact(i, scratch);
  }

  // Measures row i's waiting candidates that are still under its limit (the shared float prefilter
  // against what the row holds, then exact_sqdist), and ranks them.
  void measure(int64_t i, RerankScratch& scratch) {
    int32_t& n = waiting_[static_cast<size_t>(i)];
    const float* row = s_.base.row(i);
    std::vector<int32_t>& cand = scratch.candidates;
    cand.clear();
    const int32_t* held_j = best_j_.data() + i * k_;
    const int32_t held_count = held_[static_cast<size_t>(i)];
    for (int32_t t = 0; t < n; ++t) {
      if (!(wait_lower_[static_cast<size_t>(i * cap_ + t)] <= limit_[static_cast<size_t>(i)])) continue;
      const int32_t j = wait_j_[static_cast<size_t>(i * cap_ + t)];
      if (s_.seeds && std::find(held_j, held_j + held_count, j) != held_j + held_count) continue;  // a seed, held
      cand.push_back(j);
    }
    n = 0;
    const std::span<const double> held(best_d_.data() + i * k_, static_cast<size_t>(held_count));
    float_prefilter(row, s_.base, cand, held, static_cast<size_t>(k_), scratch);
    for (const int32_t j : scratch.survivors) rank(i, exact_sqdist(row, s_.base.row(j), s_.base.cols), j);
  }

  // A full buffer first drops the entries its limit has since passed by (free); only when more than
  // half of it is still under the limit (many near-equal distances) is it measured.
  void compact(int64_t i, RerankScratch& scratch) {
    int32_t& n = waiting_[static_cast<size_t>(i)];
    float* lower = wait_lower_.data() + i * cap_;
    int32_t* js = wait_j_.data() + i * cap_;
    int32_t kept = 0;
    for (int32_t t = 0; t < n; ++t)
      if (lower[t] <= limit_[static_cast<size_t>(i)]) {
        lower[kept] = lower[t];
        js[kept++] = js[t];
      }
    n = kept;
    if (2 * n > cap_) measure(i, scratch);
  }

  void write(int64_t i, NeighbourLists& out) const {
    for (int32_t t = 0; t < held_[static_cast<size_t>(i)]; ++t) {
      out.ids[static_cast<size_t>(i * out.k + t)] = best_j_[static_cast<size_t>(i * k_ + t)];
      out.dist[static_cast<size_t>(i * out.k + t)] = static_cast<float>(best_d_[static_cast<size_t>(i * k_ + t)]);
    }
  }

 private:
  void rank(int64_t i, double d, int32_t j) {
    double* best_d = best_d_.data() + i * k_;
    int32_t* best_j = best_j_.data() + i * k_;
    int32_t& held = held_[static_cast<size_t>(i)];
    int64_t pos = held;
    while (pos > 0 && (d < best_d[pos - 1] || (d == best_d[pos - 1] && j < best_j[pos - 1]))) --pos;
    if (pos >= k_) return;  // full, and not before the k-th
    for (int64_t t = std::min<int64_t>(held, k_ - 1); t > pos; --t) {
      best_d[t] = best_d[t - 1];
      best_j[t] = best_j[t - 1];
    }
    best_d[pos] = d;
    best_j[pos] = j;
    if (held < k_) ++held;
    if (held == k_) tighten(i);
  }

  // limit_i = min(h_i + 2 s_i, D_k - (n_i - s_i)), each rounded up; h_i is the k-th smallest upper part
  // (the one-sided threshold, candidate_filter.cpp) and D_k the k-th exact distance held.
  void tighten(int64_t i) {
    float limit = INFINITY;
    if (uppers_[static_cast<size_t>(i)] == k_) {
      const double h = upper_[static_cast<size_t>(i * k_)];
      limit = std::nextafter(static_cast<float>(h + 2.0 * static_cast<double>(s_.prepared_base->slack[static_cast<size_t>(i)])), INFINITY);
    }
    if (held_[static_cast<size_t>(i)] == k_) {
      const double dk = best_d_[static_cast<size_t>(i * k_ + k_ - 1)];
      limit = std::min(limit, std::nextafter(static_cast<float>(dk - static_cast<double>(s_.prepared_base->norm_minus[static_cast<size_t>(i)])), INFINITY));
    }
    limit_[static_cast<size_t>(i)] = limit;
  }

  const TiledSearch& s_;
  int64_t k_, cap_;
  std::vector<double> best_d_;   // rows x k, ascending by (distance, index)
  std::vector<int32_t> best_j_;
  std::vector<int32_t> held_;
  std::vector<float> upper_;     // rows x k, max-heaps
  std::vector<int32_t> uppers_;
  std::vector<float> wait_lower_;  // rows x cap
  std::vector<int32_t> wait_j_;
  std::vector<int32_t> waiting_;
  std::vector<float> limit_;
};

struct Tile {
  int64_t i0, ni, j0, nj;
  bool diagonal() const { return i0 == j0; }
};

// Offers every pair (i in I, j in J, i < j) of one computed tile to both rows and to the lambda_C
// pairs; only the pairs under one of the limits go further.
// Compiled for AVX-512, AVX2 and the baseline (the build targets x86-64): the chunk checks are most
// of the work once the limits are tight, and wide vectors do them 4-8x faster. The decisions are the
// same in every clone (float additions and comparisons).
__attribute__((target_clones("avx512f", "avx2", "default"))) void process_tile(const Tile& t, const float* g_tile,
                                                                              const TiledSearch& s, RowState& rows,
                                                                              SmallestPairs* pairs,
                                                                              RerankScratch& scratch) {
  const float* norm_minus = s.prepared_base->norm_minus.get();
  const float* norm_plus = s.prepared_base->norm_plus.get();
  const RowMatrix& z = s.base;
  const bool feed_pairs = pairs != nullptr && pairs->capacity > 0;
  const float* nm_j = norm_minus + t.j0;
  const float* limit_j = rows.limits() + t.j0;
  constexpr int64_t kChunk = 32;
  for (int64_t r = 0; r < t.ni; ++r) {
    const int64_t i = t.i0 + r;
    const float* g = g_tile + r * t.nj;
    const float nm_i = norm_minus[i], np_i = norm_plus[i];
    auto pair_limit_of = [&] {
      if (!feed_pairs) return -INFINITY;
      return pairs->full() ? std::nextafter(static_cast<float>(pairs->largest() - nm_i), INFINITY) : INFINITY;
    };
    float pair_limit = pair_limit_of();
    for (int64_t c0 = t.diagonal() ? r + 1 : 0; c0 < t.nj; c0 += kChunk) {
      const int64_t c1 = std::min(c0 + kChunk, t.nj);
      // A vectorised look at the chunk with the limits as they stand (they only fall): most chunks
      // hold no candidate at all once the rows have seen a few tiles.
      const float row_limit = std::max(rows.limit(i), pair_limit);
      int any = 0;
#pragma omp simd reduction(| : any)
      for (int64_t c = c0; c < c1; ++c) any |= (g[c] + nm_j[c] <= row_limit) | (g[c] + nm_i <= limit_j[c]);
      if (!any) continue;
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t j = t.j0 + c;
        const float lower_for_i = g[c] + nm_j[c], lower_for_j = g[c] + nm_i;
        if (lower_for_i <= rows.limit(i)) rows.admit(i, lower_for_i, g[c] + norm_plus[j], static_cast<int32_t>(j), scratch);
        if (lower_for_j <= limit_j[c]) rows.admit(j, lower_for_j, g[c] + np_i, static_cast<int32_t>(i), scratch);
        if (lower_for_i <= pair_limit && s.groups[i] != s.groups[j]) {
          const double d = exact_sqdist(z.row(i), z.row(j), z.cols);
          if (d > 0) {
            pairs->offer(d, i, j);
            pair_limit = pair_limit_of();
          }
        }
      }
    }
  }
}

// Rows per block: a block x block float tile per thread within tile_bytes; at least 32 blocks (and
// two per thread) when the class allows blocks of 256 rows, since the diagonal tiles are computed
// whole, so the GEMM work is (nb + 1) / (2 nb) of the one-sided search's; at most 2048 rows.
// Bf16 tiles start at panel boundaries, so their blocks are a multiple of the panel (within the budget
// when it allows one panel).
int64_t block_rows(int64_t n, uint64_t tile_bytes, int threads, bool bf16) {
  const auto by_budget = static_cast<int64_t>(std::sqrt(static_cast<double>(tile_bytes / static_cast<uint64_t>(threads)) / sizeof(float)));
  const int64_t blocks = std::max<int64_t>(32, 2 * threads);
  const int64_t wanted = std::max((n + blocks - 1) / blocks, std::min<int64_t>(n, 256));
  const int64_t block = std::clamp<int64_t>(std::min(wanted, by_budget), 1, 2048);
  if (!bf16 || block >= n) return block;
  return std::max<int64_t>(kBf16PanelRows, block / kBf16PanelRows * kBf16PanelRows);
}

// Rounds of tiles; within a round no two tiles share a block. Round 0: the diagonal. Then the circle
// method over P = nb rounded up to even players (a pairing with the extra player is a bye).
std::vector<std::vector<Tile>> schedule(int64_t n, int64_t block) {
  const int64_t nb = (n + block - 1) / block;
  auto tile = [&](int64_t a, int64_t b) {
    const int64_t lo = std::min(a, b), hi = std::max(a, b);
    return Tile{lo * block, std::min(block, n - lo * block), hi * block, std::min(block, n - hi * block)};
  };
  std::vector<std::vector<Tile>> rounds(1);
  for (int64_t b = 0; b < nb; ++b) rounds[0].push_back(tile(b, b));
  const int64_t players = nb + nb % 2;
  for (int64_t r = 0; r + 1 < players; ++r) {
    std::vector<Tile> round;
    if (players - 1 < nb) round.push_back(tile(r, players - 1));
    for (int64_t t = 1; t < players / 2; ++t) {
      const int64_t a = (r + t) % (players - 1), b = (r - t + players - 1) % (players - 1);
      if (a < nb && b < nb) round.push_back(tile(a, b));
    }
    if (!round.empty()) rounds.push_back(std::move(round));
  }
  return rounds;
}

}  // namespace

SearchOutput symmetric_self_search(const TiledSearch& s, MemoryBudget& memory) {
  const int64_t n = s.base.rows;
  DQ_ASSERT(s.self_search && s.prepared_base && s.prepared_base->rows == n && s.groups, "symmetric search is a self-search");
  DQ_ASSERT(n < std::numeric_limits<int32_t>::max(), "class too large for int32 ids");
  SearchOutput result;
  MemoryBudget::Reservation list_reservation;  // held while searching; callers that keep the lists reserve again
  result.lists = empty_lists(n, s.options.k, memory, list_reservation);
  if (n == 0) return result;

  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t block = block_rows(n, s.options.tile_bytes, threads, s.prepared_base->nomination == Nomination::Bf16);
  const std::vector<std::vector<Tile>> rounds = schedule(n, block);
  size_t widest = 0;
  for (const auto& round : rounds) widest = std::max(widest, round.size());
  const int workers = static_cast<int>(std::min<int64_t>(threads, static_cast<int64_t>(widest)));
  const int64_t kk = std::min<int64_t>(s.options.k, n - 1);
  auto reservation = memory.reserve(
      static_cast<uint64_t>(workers) * static_cast<uint64_t>(block * block) * sizeof(float) + RowState::bytes(n, kk),
      "knn symmetric tiles and row state");
  RowState rows(s, n, kk);
  std::vector<SmallestPairs> pair_sets(static_cast<size_t>(workers));
  for (auto& p : pair_sets) p.capacity = static_cast<size_t>(s.pairs);
  std::optional<SingleThreadedBlas> single_threaded_blas;
  if (workers > 1) single_threaded_blas.emplace();
  std::exception_ptr failure;  // exceptions must not cross the OpenMP region: rethrown after it

#pragma omp parallel num_threads(workers)
  {
    const std::unique_ptr<float[]> tile(new float[static_cast<size_t>(block * block)]);  // GEMM overwrites it
    SmallestPairs* pairs = &pair_sets[static_cast<size_t>(omp_get_thread_num())];
    RerankScratch scratch;
    for (const auto& round : rounds) {
      // Tiles of one round share no row; the barrier at the end of the loop separates the rounds.
#pragma omp for schedule(dynamic, 1)
      for (size_t r = 0; r < round.size(); ++r) {
        try {
          const Tile& t = round[r];
          nominate_tile(*s.prepared_base, t.i0, t.ni, *s.prepared_base, t.j0, t.nj, tile.get());
          process_tile(t, tile.get(), s, rows, pairs, scratch);
        } catch (...) {
#pragma omp critical(dq_symmetric_failure)
          if (!failure) failure = std::current_exception();
        }
      }
    }
  }
  if (failure) std::rethrow_exception(failure);

#pragma omp parallel num_threads(workers)
  {
    RerankScratch scratch;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      rows.measure(i, scratch);
      rows.write(i, result.lists);
    }
  }
  result.smallest_pairs = SmallestPairs::merged_distances(pair_sets, static_cast<size_t>(s.pairs));
  return result;
}

}  // namespace dq::detail
