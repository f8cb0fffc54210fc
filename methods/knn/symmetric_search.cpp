// Exact self-search over tile pairs (I, J) with J >= I: the GEMM measures each unordered pair of rows
// once, and the tile feeds both rows' lists (row i's candidates from its tile row, row j's from its
// tile column): half the arithmetic of the one-sided search (tiled_search.cpp).
//
// The one-sided filter sees a row's whole tile row before choosing candidates. Here a row's distances
// arrive over many tiles, so its threshold streams: each row keeps the k best (exact distance, index)
// measured so far, and a column is a candidate when its lower bound (prepared_rows.cpp: a_ij less the
// proven GEMM error) is at most the row's current k-th exact distance (+inf until k are held). That
// distance never falls below the final k-th distance, so every true neighbour passes when it is seen;
// a candidate that passes early and is beaten later leaves the ranking. The lists are therefore the k
// smallest (distance, index) over all rows, a full sort, whatever the order of the tiles.
//
// Schedule: the rows are cut into nb blocks. The diagonal tiles (I, I) come first; then a round-robin
// tournament (circle method) over the blocks: in each round the tiles (I, J) touch disjoint blocks,
// so no two threads ever update the same row, and the barrier after each round orders the updates.
// Memory: one block x block tile per thread and O(M k) rankings; never an M x M buffer.
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

// The k best (distance, index) of every row so far, in flat arrays, and each row's candidate limit:
// column j is a candidate for row i when g_ij + norm_minus_j <= limit_i.
struct RowRankings {
  int64_t k = 0;
  std::vector<double> dist;  // rows x k, ascending by (distance, index)
  std::vector<int32_t> ids;
  std::vector<int32_t> count;
  std::vector<float> limit;
  const float* norm_minus = nullptr;

  RowRankings(int64_t rows, int64_t kk, const float* norm_minus_rows)
      : k(kk),
        dist(static_cast<size_t>(rows * kk)),
        ids(static_cast<size_t>(rows * kk)),
        count(static_cast<size_t>(rows), 0),
        limit(static_cast<size_t>(rows), kk > 0 ? INFINITY : -INFINITY),
        norm_minus(norm_minus_rows) {}

  void offer(int64_t i, double d, int32_t j) {
    double* best_d = dist.data() + i * k;
    int32_t* best_j = ids.data() + i * k;
    int32_t& held = count[static_cast<size_t>(i)];
    int64_t pos = held;
    while (pos > 0 && (d < best_d[pos - 1] || (d == best_d[pos - 1] && j < best_j[pos - 1]))) --pos;
    if (pos >= k) return;  // full, and not before the k-th
    for (int64_t t = std::min<int64_t>(held, k - 1); t > pos; --t) {
      best_d[t] = best_d[t - 1];
      best_j[t] = best_j[t - 1];
    }
    best_d[pos] = d;
    best_j[pos] = j;
    if (held < k) ++held;
    // Lower bound n_i - s_i + g_ij + n_j - s_j <= D_k  <=>  g_ij + norm_minus_j <= D_k - norm_minus_i,
    // the right side rounded up.
    if (held == k)
      limit[static_cast<size_t>(i)] =
          std::nextafter(static_cast<float>(best_d[k - 1] - static_cast<double>(norm_minus[i])), INFINITY);
  }
};

struct Tile {
  int64_t i0, ni, j0, nj;
  bool diagonal() const { return i0 == j0; }
};

// Offers every pair (i in I, j in J, i < j) of one computed tile to both rows' rankings and to the
// lambda_C pairs, measuring exactly only the pairs whose lower bound passes one of the limits.
void process_tile(const Tile& t, const float* g_tile, const TiledSearch& s, RowRankings& rank, SmallestPairs* pairs) {
  const float* norm_minus = s.prepared_base->norm_minus.get();
  const RowMatrix& z = s.base;
  const bool feed_pairs = pairs != nullptr && pairs->capacity > 0;
  const float* nm_j = norm_minus + t.j0;
  const float* limit_j = rank.limit.data() + t.j0;
  constexpr int64_t kChunk = 32;
  for (int64_t r = 0; r < t.ni; ++r) {
    const int64_t i = t.i0 + r;
    const float* g = g_tile + r * t.nj;
    const float nm_i = norm_minus[i];
    auto pair_limit_of = [&] {
      if (!feed_pairs) return -INFINITY;
      return pairs->full() ? std::nextafter(static_cast<float>(pairs->largest() - nm_i), INFINITY) : INFINITY;
    };
    float pair_limit = pair_limit_of();
    for (int64_t c0 = t.diagonal() ? r + 1 : 0; c0 < t.nj; c0 += kChunk) {
      const int64_t c1 = std::min(c0 + kChunk, t.nj);
      // A vectorised look at the chunk with the limits as they stand (they only fall): most chunks
      // hold no candidate at all once the rankings are full.
      const float row_limit = std::max(rank.limit[static_cast<size_t>(i)], pair_limit);
      int any = 0;
#pragma omp simd reduction(| : any)
      for (int64_t c = c0; c < c1; ++c) any |= (g[c] + nm_j[c] <= row_limit) | (g[c] + nm_i <= limit_j[c]);
      if (!any) continue;
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t j = t.j0 + c;
        const bool for_i = g[c] + nm_j[c] <= rank.limit[static_cast<size_t>(i)];
        const bool for_j = g[c] + nm_i <= limit_j[c];
        const bool for_pair = g[c] + nm_j[c] <= pair_limit;
        if (!(for_i || for_j || for_pair)) continue;
        const double d = exact_sqdist(z.row(i), z.row(j), z.cols);
        if (for_i) rank.offer(i, d, static_cast<int32_t>(j));
        if (for_j) rank.offer(j, d, static_cast<int32_t>(i));
        if (for_pair && d > 0 && s.groups[i] != s.groups[j]) {
          pairs->offer(d, i, j);
          pair_limit = pair_limit_of();
        }
      }
    }
  }
}

// Rows per block: a block x block float tile per thread within tile_bytes; at least 16 blocks (and
// two per thread) when the class allows blocks of 256 rows, since the diagonal tiles are computed
// whole and cost (nb + 1) / (2 nb) of the one-sided search in all; at most 2048 rows.
int64_t block_rows(int64_t n, uint64_t tile_bytes, int threads) {
  const auto by_budget = static_cast<int64_t>(std::sqrt(static_cast<double>(tile_bytes / static_cast<uint64_t>(threads)) / sizeof(float)));
  const int64_t blocks = std::max<int64_t>(16, 2 * threads);
  const int64_t wanted = std::max((n + blocks - 1) / blocks, std::min<int64_t>(n, 256));
  return std::clamp<int64_t>(std::min(wanted, by_budget), 1, 2048);
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
  const int64_t n = s.base.rows, d = s.base.cols;
  DQ_ASSERT(s.self_search && s.prepared_base && s.prepared_base->rows == n && s.groups, "symmetric search is a self-search");
  DQ_ASSERT(n < std::numeric_limits<int32_t>::max(), "class too large for int32 ids");
  SearchOutput result;
  MemoryBudget::Reservation list_reservation;  // held while searching; callers that keep the lists reserve again
  result.lists = empty_lists(n, s.options.k, memory, list_reservation);
  if (n == 0) return result;

  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t block = block_rows(n, s.options.tile_bytes, threads);
  const std::vector<std::vector<Tile>> rounds = schedule(n, block);
  size_t widest = 0;
  for (const auto& round : rounds) widest = std::max(widest, round.size());
  const int workers = static_cast<int>(std::min<int64_t>(threads, static_cast<int64_t>(widest)));
  const int64_t kk = std::min<int64_t>(s.options.k, n - 1);
  auto reservation = memory.reserve(
      static_cast<uint64_t>(workers) * static_cast<uint64_t>(block * block) * sizeof(float) +
          static_cast<uint64_t>(n) * (static_cast<uint64_t>(kk) * (sizeof(double) + sizeof(int32_t)) + sizeof(int32_t) + sizeof(float)),
      "knn symmetric tiles and rankings");
  RowRankings rank(n, kk, s.prepared_base->norm_minus.get());
  std::vector<SmallestPairs> pair_sets(static_cast<size_t>(workers));
  for (auto& p : pair_sets) p.capacity = static_cast<size_t>(s.pairs);
  std::optional<SingleThreadedBlas> single_threaded_blas;
  if (workers > 1) single_threaded_blas.emplace();
  std::exception_ptr failure;  // exceptions must not cross the OpenMP region: rethrown after it
  const float* centred = s.prepared_base->centred.get();

#pragma omp parallel num_threads(workers)
  {
    const std::unique_ptr<float[]> tile(new float[static_cast<size_t>(block * block)]);  // GEMM overwrites it
    SmallestPairs* pairs = &pair_sets[static_cast<size_t>(omp_get_thread_num())];
    for (const auto& round : rounds) {
      // Tiles of one round share no row; the barrier at the end of the loop separates the rounds.
#pragma omp for schedule(dynamic, 1)
      for (size_t r = 0; r < round.size(); ++r) {
        try {
          const Tile& t = round[r];
          minus_two_inner_products(centred + t.i0 * d, t.ni, centred + t.j0 * d, t.nj, d, tile.get());
          process_tile(t, tile.get(), s, rank, pairs);
        } catch (...) {
#pragma omp critical(dq_symmetric_failure)
          if (!failure) failure = std::current_exception();
        }
      }
    }
  }
  if (failure) std::rethrow_exception(failure);

  for (int64_t i = 0; i < n; ++i) {
    const int32_t held = rank.count[static_cast<size_t>(i)];
    for (int32_t t = 0; t < held; ++t) {
      result.lists.ids[static_cast<size_t>(i * s.options.k + t)] = rank.ids[static_cast<size_t>(i * kk + t)];
      result.lists.dist[static_cast<size_t>(i * s.options.k + t)] = static_cast<float>(rank.dist[static_cast<size_t>(i * kk + t)]);
    }
  }
  result.smallest_pairs = SmallestPairs::merged_distances(pair_sets, static_cast<size_t>(s.pairs));
  return result;
}

}  // namespace dq::detail
