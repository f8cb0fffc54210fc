// The exact search's OpenMP driver: query rows in tiles, one single-threaded GEMM per tile, then the
// candidate filter on each row of it.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <optional>

#include "core/blas_threads.h"
#include "core/error.h"
#include "methods/knn/internal/tiled_search.h"
#include "methods/size_limits.h"

namespace dq::detail {
namespace {

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

SearchOutput tiled_search(const TiledSearch& s, MemoryBudget& memory) {
  const int64_t nq = s.queries.rows, nb = s.base.rows, d = s.base.cols;
  DQ_ASSERT(s.queries.cols == d && s.prepared_base && s.prepared_base->rows == nb, "search inputs disagree");
  DQ_ASSERT(s.prepared_queries ? s.prepared_queries->rows == nq : s.base_mean != nullptr, "queries need preparing");
  DQ_ASSERT(s.self_in_base.empty() || static_cast<int64_t>(s.self_in_base.size()) == nq, "one self entry per query");
  check_search_rows(nb, "the exact KNN search's base");
  SearchOutput result;
  MemoryBudget::Reservation list_reservation;  // held while searching; callers that keep the lists reserve again
  result.lists = empty_lists(nq, s.options.k, memory, list_reservation);
  result.nomination = s.prepared_base->nomination;
  MemoryBudget::Reservation exact_reservation;
  if (s.keep_exact_distances) {
    exact_reservation = memory.reserve(static_cast<uint64_t>(nq * s.options.k) * sizeof(double), "knn exact distances");
    result.exact_dist.assign(static_cast<size_t>(nq * s.options.k), INFINITY);
  }
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
  std::vector<SmallestPairs> pair_sets(static_cast<size_t>(workers));
  for (auto& p : pair_sets) p.capacity = s.self_search ? static_cast<size_t>(s.pairs) : 0;
  std::optional<SingleThreadedBlas> single_threaded_blas;
  if (workers > 1) single_threaded_blas.emplace();
  std::exception_ptr failure;  // exceptions must not cross the OpenMP region: rethrown after it

#pragma omp parallel num_threads(workers)
  {
    const std::unique_ptr<float[]> tile(new float[static_cast<size_t>(rows_per_tile * nb)]);  // GEMM overwrites it
    RowScratch scratch;
    SmallestPairs* pairs = s.self_search ? &pair_sets[static_cast<size_t>(omp_get_thread_num())] : nullptr;
    // Rows are independent and every list is exact, so the schedule cannot change the output.
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tiles; ++t) {
      try {
        const int64_t r0 = t * rows_per_tile, nr = std::min(rows_per_tile, nq - r0);
        PreparedRows query_tile;
        const PreparedRows* q = s.prepared_queries;
        int64_t q0 = r0;  // first row of this tile within *q
        if (!q) {
          query_tile = prepare_rows(RowMatrix{s.queries.row(r0), nr, d}, s.base_mean, memory, "knn query tile",
                                    s.prepared_base->nomination, Bf16Use::Rows);
          q = &query_tile;
          q0 = 0;
        }
        nominate_tile(*q, q0, nr, *s.prepared_base, 0, nb, tile.get());
        for (int64_t r = 0; r < nr; ++r) {
          const int64_t i = r0 + r;
          int64_t skip = -1;
          if (s.self_search) skip = i;
          else if (!s.self_in_base.empty()) skip = s.self_in_base[static_cast<size_t>(i)];
          const RowJob job{tile.get() + r * nb, i, skip, q->norm_minus[static_cast<size_t>(q0 + r)],
                           q->slack[static_cast<size_t>(q0 + r)]};
          process_row(job, s, result.lists, s.keep_exact_distances ? result.exact_dist.data() : nullptr, pairs, scratch);
        }
      } catch (...) {
#pragma omp critical(dq_tiled_failure)
        if (!failure) failure = std::current_exception();
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
  if (s.self_search) result.smallest_pairs = SmallestPairs::merged_distances(pair_sets, static_cast<size_t>(s.pairs));
  return result;
}

}  // namespace dq::detail
