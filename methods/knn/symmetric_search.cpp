// Exact self-search over tile pairs (I, J) with J >= I: the GEMM measures each unordered pair of rows
// once, and the tile feeds both rows (row i's candidates from its tile row, row j's from its tile
// column): half the arithmetic of the one-sided search (tiled_search.cpp).
//
// Local frames. The rows are searched in the order of the seeds' k-means cells (cell by cell; the
// given order without seeds), cut into blocks, and each tile (I, J) is computed with both blocks
// centred on block I's mean. The tiles' error bound (nomination.cpp) grows with the centred norms, so
// a block of neighbouring rows keeps it near the neighbours' own distances: bf16 tiles then nominate
// about as few rows as fp32 ones, where one centre for the whole class would nominate whole clusters.
// Block I is prepared once in its own frame; block J is prepared in frame I per tile (|J| d work
// against the tile's |I| |J| d). Limits and bounds are therefore kept in distance units.
//
// The one-sided filter sees a row's whole tile row before choosing candidates: those whose lower
// bound (the tile's distance less the proven error) is at most the k-th smallest upper bound. Here a
// row's values arrive over many tiles, so its limit streams: it is the smaller of the k-th smallest
// upper bound over the columns seen so far and the k-th exact distance held (either is +inf until k
// are known; the seeds, each row's exact neighbours within its cell, make it finite from the start).
// Both never fall below their final values, and those already admit every true neighbour, so every
// true neighbour passes when it is seen. A passing column is not measured at once: it waits in the
// row's buffer with its lower bound; a full buffer drops what the limit has since passed by, and is
// measured only if more than half of it is still under the limit; at the end the entries under the
// final limit are measured (the shared re-rank, rerank.h) and ranked by (distance, original index).
// The lists are therefore the k smallest (distance, index) over all rows, a full sort, whatever the
// order of rows and tiles.
//
// Schedule: the diagonal tiles (I, I) come first; then a round-robin tournament (circle method) over
// the blocks: in each round the tiles (I, J) touch disjoint blocks, so no two threads ever update the
// same row, and the barrier after each round orders the updates. Memory: a copy of the rows in search
// order with each block's prepared frame, one tile and one prepared block per thread, and O(M k) row
// state; never an M x M buffer.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <utility>

#include "core/blas_threads.h"
#include "core/error.h"
#include "methods/knn/internal/float_steps.h"
#include "methods/knn/internal/tiled_search.h"
#include "methods/size_limits.h"

namespace dq::detail {
namespace {

// Per row (by position in the search order): the k best (exact distance, position) measured so far,
// ranked by (distance, original index); the k smallest upper bounds seen (a max-heap, distance
// units); the waiting candidates with their lower bounds; and the limit L_i (distance units): a
// column passes when its lower bound is at most L_i.
class RowState {
 public:
  // Waiting candidates per row before the buffer is measured: 4k keeps a row's exact measurements
  // near the one-sided count while the state stays O(M k).
  static constexpr int64_t kBufferPerK = 4;

  RowState(RowMatrix rows, const int64_t* original, int64_t kk)
      : z_(rows),
        original_(original),
        k_(kk),
        cap_(std::max<int64_t>(kk * kBufferPerK, 8)),
        best_d_(static_cast<size_t>(rows.rows * kk)),
        best_j_(static_cast<size_t>(rows.rows * kk)),
        held_(static_cast<size_t>(rows.rows), 0),
        upper_(static_cast<size_t>(rows.rows * kk)),
        uppers_(static_cast<size_t>(rows.rows), 0),
        wait_lower_(static_cast<size_t>(rows.rows * cap_)),
        wait_j_(static_cast<size_t>(rows.rows * cap_)),
        waiting_(static_cast<size_t>(rows.rows), 0),
        limit_(static_cast<size_t>(rows.rows), kk > 0 ? INFINITY : -INFINITY) {}

  static uint64_t bytes(int64_t rows, int64_t kk) {
    const auto cap = static_cast<uint64_t>(std::max<int64_t>(kk * kBufferPerK, 8));
    return static_cast<uint64_t>(rows) * (static_cast<uint64_t>(kk) * (sizeof(double) + sizeof(int32_t) + sizeof(float)) +
                                          cap * (sizeof(float) + sizeof(int32_t)) + 3 * sizeof(int32_t) + sizeof(float));
  }

  float limit(int64_t i) const { return limit_[static_cast<size_t>(i)]; }

  // A seed: position j measured exactly beforehand. measure() skips it when the tiles meet it again.
  void seed(int64_t i, double d, int32_t j) { rank(i, d, j); }
  bool seeded() const { return seeded_; }
  void set_seeded() { seeded_ = true; }

  // Column j passed row i's limit with the bounds lower <= d_ij <= upper (distance units).
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
    const float* row = z_.row(i);
    std::vector<int32_t>& cand = scratch.candidates;
    cand.clear();
    const int32_t* held_j = best_j_.data() + i * k_;
    const int32_t held_count = held_[static_cast<size_t>(i)];
    for (int32_t t = 0; t < n; ++t) {
      if (!(wait_lower_[static_cast<size_t>(i * cap_ + t)] <= limit_[static_cast<size_t>(i)])) continue;
      const int32_t j = wait_j_[static_cast<size_t>(i * cap_ + t)];
      if (seeded_ && std::find(held_j, held_j + held_count, j) != held_j + held_count) continue;  // a seed, held
      cand.push_back(j);
    }
    n = 0;
    const std::span<const double> held(best_d_.data() + i * k_, static_cast<size_t>(held_count));
    float_prefilter(row, z_, cand, held, static_cast<size_t>(k_), scratch);
    measure_survivors(row, z_, scratch);
    for (size_t t = 0; t < scratch.survivors.size(); ++t) rank(i, scratch.exact[t], scratch.survivors[t]);
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

  // Row i's list, in original indices, into row `out_row` of out.
  void write(int64_t i, int64_t out_row, NeighbourLists& out) const {
    for (int32_t t = 0; t < held_[static_cast<size_t>(i)]; ++t) {
      out.ids[static_cast<size_t>(out_row * out.k + t)] =
          static_cast<int32_t>(original_[best_j_[static_cast<size_t>(i * k_ + t)]]);
      out.dist[static_cast<size_t>(out_row * out.k + t)] = static_cast<float>(best_d_[static_cast<size_t>(i * k_ + t)]);
    }
  }

 private:
  // (distance, original index) order: the lists do not depend on the search order.
  bool before(double d, int32_t j, int64_t at) const {
    const double e = best_d_[static_cast<size_t>(at)];
    return d < e || (d == e && original_[j] < original_[best_j_[static_cast<size_t>(at)]]);
  }

  void rank(int64_t i, double d, int32_t j) {
    double* best_d = best_d_.data() + i * k_;
    int32_t* best_j = best_j_.data() + i * k_;
    int32_t& held = held_[static_cast<size_t>(i)];
    int64_t pos = held;
    while (pos > 0 && before(d, j, i * k_ + pos - 1)) --pos;
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

  // L_i = min(the k-th smallest upper bound, the k-th exact distance held), rounded up.
  void tighten(int64_t i) {
    float limit = INFINITY;
    if (uppers_[static_cast<size_t>(i)] == k_) limit = upper_[static_cast<size_t>(i * k_)];
    if (held_[static_cast<size_t>(i)] == k_) limit = std::min(limit, round_up(best_d_[static_cast<size_t>(i * k_ + k_ - 1)]));
    limit_[static_cast<size_t>(i)] = limit;
  }

  RowMatrix z_;
  const int64_t* original_;
  int64_t k_, cap_;
  bool seeded_ = false;
  std::vector<double> best_d_;   // rows x k, ascending by (distance, original index)
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
  int64_t bi, bj;  // block indices, bi <= bj
  int64_t i0, ni, j0, nj;
  bool diagonal() const { return bi == bj; }
};

// One tile's frame: block I in its own frame (norms of its rows), block J in frame I.
struct Frame {
  const PreparedRows& rows_i;
  const PreparedRows& cols_j;
};

// Offers every pair (i in I, j in J, i < j) of one computed tile to both rows and to the lambda_C
// pairs; only the pairs under one of the limits go further. Compiled for AVX-512, AVX2 and the
// baseline (the build targets x86-64): the chunk checks are most of the work once the limits are
// tight, and wide vectors do them several times faster. The decisions are the same in every clone
// (float additions and comparisons).
__attribute__((target_clones("avx512f", "avx2", "default"))) void process_tile(
    const Tile& t, const Frame& f, const float* g_tile, RowMatrix z, const int32_t* groups, RowState& rows,
    SmallestPairs* pairs, RerankScratch& scratch, std::vector<float>& column_limit) {
  const float* nm_i_all = f.rows_i.norm_minus.get();
  const float* np_i_all = f.rows_i.norm_plus.get();
  const float* nm_j = f.cols_j.norm_minus.get();
  const float* np_j = f.cols_j.norm_plus.get();
  const bool feed_pairs = pairs != nullptr && pairs->capacity > 0;
  // Column j passes for row i when g + nm_i <= L_j - nm_j (in frame I), kept per column and updated
  // when an admission tightens L_j.
  column_limit.resize(static_cast<size_t>(t.nj));
  auto column_limit_of = [&](int64_t c) { return round_up(static_cast<double>(rows.limit(t.j0 + c)) - nm_j[c]); };
  for (int64_t c = 0; c < t.nj; ++c) column_limit[static_cast<size_t>(c)] = column_limit_of(c);
  const float* limit_j = column_limit.data();
  constexpr int64_t kChunk = 32;
  for (int64_t r = 0; r < t.ni; ++r) {
    const int64_t i = t.i0 + r;
    const float* g = g_tile + r * t.nj;
    const float nm_i = nm_i_all[r], np_i = np_i_all[r];
    auto row_limit_of = [&] { return round_up(static_cast<double>(rows.limit(i)) - nm_i); };
    auto pair_limit_of = [&] {
      if (!feed_pairs) return -INFINITY;
      return pairs->full() ? round_up(pairs->largest() - nm_i) : INFINITY;
    };
    float row_limit = row_limit_of(), pair_limit = pair_limit_of();
    for (int64_t c0 = t.diagonal() ? r + 1 : 0; c0 < t.nj; c0 += kChunk) {
      const int64_t c1 = std::min(c0 + kChunk, t.nj);
      // A vectorised look at the chunk with the limits as they stand (they only fall): most chunks
      // hold no candidate at all once the rows have seen a few tiles.
      const float either = std::max(row_limit, pair_limit);
      int any = 0;
#pragma omp simd reduction(| : any)
      for (int64_t c = c0; c < c1; ++c) any |= (g[c] + nm_j[c] <= either) | (g[c] + nm_i <= limit_j[c]);
      if (!any) continue;
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t j = t.j0 + c;
        const float lower_for_i = g[c] + nm_j[c], lower_for_j = g[c] + nm_i;
        if (lower_for_i <= row_limit) {
          rows.admit(i, round_down(static_cast<double>(lower_for_i) + nm_i), round_up(static_cast<double>(g[c] + np_j[c]) + np_i),
                     static_cast<int32_t>(j), scratch);
          row_limit = row_limit_of();
        }
        if (lower_for_j <= limit_j[c]) {
          rows.admit(j, round_down(static_cast<double>(lower_for_j) + nm_j[c]), round_up(static_cast<double>(g[c] + np_i) + np_j[c]),
                     static_cast<int32_t>(i), scratch);
          column_limit[static_cast<size_t>(c)] = column_limit_of(c);
        }
        if (lower_for_i <= pair_limit && groups[i] != groups[j]) {
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
int64_t block_rows(int64_t n, uint64_t tile_bytes, int threads) {
  const auto by_budget = static_cast<int64_t>(std::sqrt(static_cast<double>(tile_bytes / static_cast<uint64_t>(threads)) / sizeof(float)));
  const int64_t blocks = std::max<int64_t>(32, 2 * threads);
  const int64_t wanted = std::max((n + blocks - 1) / blocks, std::min<int64_t>(n, 256));
  return std::clamp<int64_t>(std::min(wanted, by_budget), 1, 2048);
}

// Rounds of tiles; within a round no two tiles share a block. Round 0: the diagonal. Then the circle
// method over P = nb rounded up to even players (a pairing with the extra player is a bye).
std::vector<std::vector<Tile>> schedule(int64_t n, int64_t block) {
  const int64_t nb = (n + block - 1) / block;
  auto tile = [&](int64_t a, int64_t b) {
    const int64_t lo = std::min(a, b), hi = std::max(a, b);
    return Tile{lo, hi, lo * block, std::min(block, n - lo * block), hi * block, std::min(block, n - hi * block)};
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
  const int64_t n = s.base.rows, d = s.base.cols;
  DQ_ASSERT(s.self_search && s.groups, "symmetric search is a self-search");
  check_search_rows(n, "the exact KNN self-search");
  SearchOutput result;
  MemoryBudget::Reservation list_reservation;  // held while searching; callers that keep the lists reserve again
  result.lists = empty_lists(n, s.options.k, memory, list_reservation);
  if (n == 0) return result;

  // The search order: the seeds' cells, else the rows as given; the rows and groups copied in it.
  std::vector<int64_t> original(static_cast<size_t>(n));
  if (s.seeds && !s.seeds->order.empty()) original = s.seeds->order;
  else std::iota(original.begin(), original.end(), 0);
  std::vector<int32_t> position(static_cast<size_t>(n));
  for (int64_t p = 0; p < n; ++p) position[static_cast<size_t>(original[static_cast<size_t>(p)])] = static_cast<int32_t>(p);
  auto rows_reservation = memory.reserve(static_cast<uint64_t>(n) * (static_cast<uint64_t>(d) * sizeof(float) + 16),
                                         "knn symmetric rows in search order");
  const std::unique_ptr<float[]> ordered(new float[static_cast<size_t>(n * d)]);
  std::vector<int32_t> groups(static_cast<size_t>(n));
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < n; ++p) {
    std::copy_n(s.base.row(original[static_cast<size_t>(p)]), d, ordered.get() + p * d);
    groups[static_cast<size_t>(p)] = s.groups[original[static_cast<size_t>(p)]];
  }
  const RowMatrix z{ordered.get(), n, d};

  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t block = block_rows(n, s.options.tile_bytes, threads);
  const std::vector<std::vector<Tile>> rounds = schedule(n, block);
  const int64_t nblocks = (n + block - 1) / block;
  size_t widest = 0;
  for (const auto& round : rounds) widest = std::max(widest, round.size());
  const int workers = static_cast<int>(std::min<int64_t>(threads, static_cast<int64_t>(widest)));
  const int64_t kk = std::min<int64_t>(s.options.k, n - 1);
  auto reservation = memory.reserve(
      static_cast<uint64_t>(workers) * static_cast<uint64_t>(block * block) * sizeof(float) + RowState::bytes(n, kk),
      "knn symmetric tiles and row state");

  // Every block in its own frame (the tiles' left side, and both sides of the diagonal tiles).
  std::vector<std::vector<float>> means(static_cast<size_t>(nblocks));
  std::vector<PreparedRows> frames(static_cast<size_t>(nblocks));
  std::exception_ptr failure;  // exceptions must not cross the OpenMP region: rethrown after it
#pragma omp parallel for schedule(dynamic, 1) num_threads(workers)
  for (int64_t b = 0; b < nblocks; ++b) {
    try {
      const RowMatrix rows{z.row(b * block), std::min(block, n - b * block), d};
      means[static_cast<size_t>(b)] = column_mean(rows);
      frames[static_cast<size_t>(b)] = prepare_rows(rows, means[static_cast<size_t>(b)].data(), memory, "knn symmetric block",
                                                    s.options.nomination);
    } catch (...) {
#pragma omp critical(dq_symmetric_failure)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
  if (std::any_of(frames.begin(), frames.end(), [](const PreparedRows& f) { return f.nomination == Nomination::Bf16; }))
    result.nomination = Nomination::Bf16;

  RowState state(z, original.data(), kk);
  if (s.seeds && kk > 0) {
    DQ_ASSERT(s.seeds->k >= kk && static_cast<int64_t>(s.seeds->held.size()) == n, "seeds for other rows");
    for (int64_t i = 0; i < n; ++i)
      for (int32_t t = 0; t < s.seeds->held[static_cast<size_t>(i)]; ++t) {
        const Neighbour& nb = s.seeds->best[static_cast<size_t>(i * s.seeds->k + t)];
        state.seed(position[static_cast<size_t>(i)], nb.d, position[static_cast<size_t>(nb.j)]);
      }
    state.set_seeded();
  }
  std::vector<SmallestPairs> pair_sets(static_cast<size_t>(workers));
  for (auto& p : pair_sets) p.capacity = static_cast<size_t>(s.pairs);
  std::optional<SingleThreadedBlas> single_threaded_blas;
  if (workers > 1) single_threaded_blas.emplace();

#pragma omp parallel num_threads(workers)
  {
    const std::unique_ptr<float[]> tile(new float[static_cast<size_t>(block * block)]);  // the tile product overwrites it
    SmallestPairs* pairs = &pair_sets[static_cast<size_t>(omp_get_thread_num())];
    RerankScratch scratch;
    std::vector<float> column_limit;
    for (const auto& round : rounds) {
      // Tiles of one round share no row; the barrier at the end of the loop separates the rounds.
#pragma omp for schedule(dynamic, 1)
      for (size_t r = 0; r < round.size(); ++r) {
        try {
          const Tile& t = round[r];
          const PreparedRows& own = frames[static_cast<size_t>(t.bi)];
          std::optional<PreparedRows> other;  // block J in frame I
          if (!t.diagonal())
            other.emplace(prepare_rows(RowMatrix{z.row(t.j0), t.nj, d}, means[static_cast<size_t>(t.bi)].data(), memory,
                                       "knn symmetric block in another frame", own.nomination, Bf16Use::Panels));
          const PreparedRows& cols = other ? *other : own;
          nominate_tile(own, 0, t.ni, cols, 0, t.nj, tile.get());
          process_tile(t, Frame{own, cols}, tile.get(), z, groups.data(), state, pairs, scratch, column_limit);
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
    for (int64_t p = 0; p < n; ++p) {
      state.measure(p, scratch);
      state.write(p, original[static_cast<size_t>(p)], result.lists);
    }
  }
  result.smallest_pairs = SmallestPairs::merged_distances(pair_sets, static_cast<size_t>(s.pairs));
  return result;
}

}  // namespace dq::detail
