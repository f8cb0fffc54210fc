#pragma once
// The exact tiled search (internal to methods/knn/): the OpenMP tile driver and the candidate filter
// that turns one row of a float distance tile into an exactly ranked list.
#include <cstdint>
#include <span>
#include <vector>

#include "core/memory_budget.h"
#include "methods/knn/internal/cells.h"
#include "methods/knn/internal/lists.h"
#include "methods/knn/internal/prepared_rows.h"
#include "methods/knn/internal/rerank.h"
#include "methods/knn/search.h"

namespace dq::detail {

// One exact search: original rows (exact distances come from them) and their prepared forms.
struct TiledSearch {
  RowMatrix queries, base;
  const PreparedRows* prepared_queries = nullptr;  // nullptr: each tile is prepared with base_mean
  const PreparedRows* prepared_base = nullptr;
  const float* base_mean = nullptr;
  std::span<const int64_t> self_in_base;  // per query, a base row it must not list (empty: none)
  // Per query, an exact distance no listed row may exceed to matter (the k-th distance a caller
  // already holds for it, merging this search into its lists; +inf: none); empty: none.
  std::span<const double> query_limits;
  bool self_search = false;               // queries are the base: row i skips itself, pairs are collected
  const int32_t* groups = nullptr;        // duplicate groups (self-search with pairs)
  int64_t pairs = 0;
  bool keep_exact_distances = false;      // also return the lists' distances in double (tiled_search)
  const SeedLists* seeds = nullptr;       // symmetric search: rows' exactly measured starting neighbours
  ExactSearchOptions options;
};
struct SearchOutput {
  NeighbourLists lists;
  std::vector<double> smallest_pairs;
  std::vector<double> exact_dist;  // n x k, the lists' exact distances (keep_exact_distances only)
  Nomination nomination = Nomination::Fp32;  // Bf16 when tiles were computed in bf16
};
SearchOutput tiled_search(const TiledSearch& search, MemoryBudget& memory);
// The same self-search (search.self_search, queries == base) over tile pairs (I, J >= I): each pair
// of rows measured once for both lists, in local frames (it prepares its own rows: the prepared
// fields are not used). Same lists, byte for byte; same lambda_C pairs.
SearchOutput symmetric_self_search(const TiledSearch& search, MemoryBudget& memory);

// One query row of a distance tile.
struct RowJob {
  const float* g;           // -2 <c_i, c_j> for j in [0, nb)
  int64_t query;            // row index among the queries
  int64_t skip;             // base index to exclude, or -1
  float norm_minus, slack;  // the query row's n_i - s_i and s_i
};
// Per-thread scratch of the candidate filter.
struct RowScratch {
  std::vector<float> heap, minima;
  std::vector<int32_t> candidates;
  TopK top;
  RerankScratch rerank;
};

// The candidate filter's selection (candidate_filter.cpp), for a row of values v_c = g_c + norm_plus_c
// (c in [0, n), c != skip; skip < 0: none):
// - group_minima_bound: a value with at least k of the v_c at or below it (near the k-th smallest
//   minimum of disjoint groups of them), or +infinity when it finds none; `minima` is scratch.
// - kth_smallest_upper (k >= 1): the k-th smallest v_c, or +infinity when fewer than k of them lie
//   below `cap`. Finite values give the value a sort gives (a zero's sign may differ).
float group_minima_bound(const float* g, const float* norm_plus, int64_t n, int64_t skip, size_t k,
                         std::vector<float>& minima);
float kth_smallest_upper(const float* g, const float* norm_plus, int64_t n, int64_t skip, size_t k, float cap,
                         std::vector<float>& heap, std::vector<float>& minima);

// Ranks the candidates of one query row exactly and writes its list (and, when exact_dist is not null,
// its exact distances there, n x k like the list); optionally feeds `pairs` (self-search only: pairs
// (i, j) with j > i in different duplicate groups).
void process_row(const RowJob& job, const TiledSearch& s, NeighbourLists& out, double* exact_dist, SmallestPairs* pairs,
                 RowScratch& scratch);

}  // namespace dq::detail
