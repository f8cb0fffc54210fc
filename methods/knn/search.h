#pragma once
// The neighbour searches (public): exact tiled search, FAISS search, clustered search, recall@k.
// BGFDQ's graph (methods/knn/knn.h) and the selection metrics build on them. Distances are squared Euclidean. Every list is ranked by exact_sqdist (double
// accumulation over the float inputs), ties to the lower row index, so results do not depend on BLAS,
// tiling or the number of threads: float GEMM tiles only nominate candidates, with a proven error
// margin, and the candidates are then measured exactly.
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/memory_budget.h"
#include "core/stage_timer.h"

namespace dq {

struct DuplicateGroups;  // methods/duplicate_rows.h

// Row-major float matrix owned elsewhere.
struct RowMatrix {
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  const float* row(int64_t i) const { return data + i * cols; }
};

// sum_k (a_k - b_k)^2 accumulated in double: the reference distance.
double exact_sqdist(const float* a, const float* b, int64_t d);

// n x k neighbour lists, row-major. Slots beyond the available neighbours hold id -1 and +inf.
struct NeighbourLists {
  int64_t n = 0;
  int64_t k = 0;
  std::vector<int32_t> ids;   // base row indices
  std::vector<float> dist;    // exact squared distances, rounded to float
  const int32_t* ids_of(int64_t i) const { return ids.data() + i * k; }
  const float* dist_of(int64_t i) const { return dist.data() + i * k; }
  static constexpr float kEmpty = std::numeric_limits<float>::infinity();
};

// The number format of the distance tiles that nominate candidates. Every choice gives the same
// lists and pairs, byte for byte: the tiles only nominate, with a proven error margin
// (methods/knn/nomination.cpp), and the nominated rows are measured exactly. Auto and Bf16 use
// bfloat16 tiles with fp32 accumulation (AVX-512 BF16, about 3.5x the fp32 GEMM rate here) where the
// CPU has them and the bound holds, fp32 otherwise (refused: fp32, recorded in the result).
enum class Nomination { Auto, Fp32, Bf16 };

struct ExactSearchOptions {
  int64_t k = 20;
  uint64_t tile_bytes = 256ull << 20;  // the float distance tiles (all threads together) stay under this
  // Self-search only: compute each tile pair (I, J >= I) once and feed both rows' lists (half the
  // GEMM work); false runs the one-sided search. Both give the same lists and pairs, byte for byte.
  bool symmetric = true;
  Nomination nomination = Nomination::Auto;
  // Symmetric self-search: a class of at least this many rows starts from each row's exact neighbours
  // within its k-means cell (seeds, internal/cells.h), which keeps the streamed limits tight from the
  // first tile. Same lists either way. -1: 2,048 rows up to 128 dimensions, 16,384 above (below
  // those the seeds' k-means cost more than they saved; measured in exact_search.cpp).
  int64_t seed_min_rows = -1;
};

// For each query row, the k nearest base rows. When self_in_base is non-empty, query i never lists
// base row self_in_base[i] (used when the queries are a sample of the base).
NeighbourLists exact_knn(RowMatrix queries, RowMatrix base, std::span<const int64_t> self_in_base,
                         const ExactSearchOptions& options, MemoryBudget& memory);

// Exact k nearest neighbours (options.k) of chosen rows of z among all its rows, each excluding
// itself, asked for in batches: z is prepared for the tiles once (exact_knn prepares its base on every
// call). A row's list is its row of exact_self_knn(z), byte for byte (same ranking: exact distance,
// then the lower index). z must outlive the object. For BGFDQ's ni=lazy, where NCS reads only the
// lists of the rows it picks (methods/bgfdq.cpp).
class ExactListsOnDemand {
 public:
  ExactListsOnDemand(RowMatrix z, const ExactSearchOptions& options, MemoryBudget& memory);
  ~ExactListsOnDemand();
  ExactListsOnDemand(const ExactListsOnDemand&) = delete;
  ExactListsOnDemand& operator=(const ExactListsOnDemand&) = delete;
  // rows.size() x k lists (ids: rows of z), in the order of `rows`; dq::OutOfMemory past the budget.
  NeighbourLists lists_of(std::span<const int64_t> rows, MemoryBudget& memory);
  Nomination nomination() const;  // the tiles' format
  int64_t rows_listed() const;    // rows asked for so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What an approximate search did (SelfKnnResult::report).
struct ApproximateReport {
  double recall = std::numeric_limits<double>::quiet_NaN();  // on the sample, of the lists returned
  // Its one-sided 95% lower confidence bound for the whole class (recall less 1.645 standard errors
  // over the sampled rows), recorded beside it (the target is held on `recall`). NaN where not measured.
  double recall_lower = std::numeric_limits<double>::quiet_NaN();
  int64_t nprobe = 0;            // the nprobe the returned lists were searched with
  int64_t rounds = 0;            // searches run: 1 + the raises of nprobe
  int64_t refine_rounds = 0;     // clustered: rounds of neighbour-of-neighbour refinement
  bool exact_fallback = false;   // the exact search replaced the approximate one
  int64_t cells = 0;             // clustered: cells after balancing
  int64_t largest_cell = 0;      // clustered: rows in the largest cell
  double work_ratio = 0;         // clustered: rows compared (sum over cells of cell rows x base rows)
                                 // over its balanced estimate rows x nprobe x rows / nlist
};

struct SelfKnnResult {
  NeighbourLists lists;
  // The smallest non-zero distances over unordered pairs i < j (each pair once), ascending, at most
  // the number asked for. Exact in exact_self_knn; in approximate_self_knn only pairs that the search
  // found are considered.
  std::vector<double> smallest_pairs;
  int64_t duplicates = 0;  // rows equal to a lower-index row
  bool pairs_exact = true;  // false when smallest_pairs only covers the pairs a search found
  Nomination nomination = Nomination::Fp32;  // the tiles' format (Fp32 or Bf16) after refusals
  ApproximateReport report{};               // approximate searches only
};

// Every row against every other row, and in the same pass the `pairs` smallest non-zero pair
// distances. Memory: one tile plus a centred copy of z; never a rows x rows matrix. `groups`: z's
// duplicate groups (methods/duplicate_rows.h) where the caller has them; computed otherwise.
SelfKnnResult exact_self_knn(RowMatrix z, int64_t pairs, const ExactSearchOptions& options, MemoryBudget& memory,
                             const DuplicateGroups* groups = nullptr);

struct ApproxSearchOptions {
  std::string factory;     // FAISS index_factory string, e.g. "PCA64,Flat", "IVF1024,Flat", "HNSW32"
  int64_t k = 20;
  int64_t nprobe = 0;      // IVF probes (0: the index's default)
  int64_t ef_search = 0;   // HNSW efSearch (0: the index's default)
  double rerank = 2.0;     // ask the index for ceil(rerank * k) candidates, keep the k exactly nearest
  int64_t pairs = 50;      // smallest pair distances to report (from the candidates)
};

// FAISS search of every row against the class, candidates re-ranked by exact_sqdist.
SelfKnnResult approximate_self_knn(RowMatrix z, const ApproxSearchOptions& options, MemoryBudget& memory);

struct ClusteredSearchOptions {
  int64_t k = 20;
  int64_t nlist = 0;    // k-means cells before balancing (0: round(sqrt(rows)), at most rows / 16)
  int64_t nprobe = 0;   // each row is searched against its own cell and the others among the nprobe
                        // cells whose centroids are nearest to it (0: 8)
  int64_t pairs = 50;
  uint64_t tile_bytes = 256ull << 20;
  Nomination nomination = Nomination::Auto;
  // Recall kept, not only recorded: with a sample, recall@k of the lists is measured on it (against
  // the sample's exact lists, computed once) and, while below recall_target (> 0), each step is
  // either twice the cells (nprobe doubles and the rows are searched against the cells added) or a
  // round of neighbour-of-neighbour refinement (16 at most), whichever gains more recall per unit of
  // work when both are tried on the sample; twice the cells is not taken when it would reach half of
  // them or take the rows compared past half the exact search's pairs, and then, when refinement
  // gains nothing, the exact search runs instead (recall 1).
  std::span<const int64_t> recall_sample{};
  double recall_target = 0;
  bool recall_lower_bound = false;  // hold the target on ApproximateReport::recall_lower, not recall
  const DuplicateGroups* groups = nullptr;  // the rows' duplicate groups where the caller has them
  StageTimer* timer = nullptr;  // when set, sub-stages knn_partition, knn_cell_prep, knn_recall (the
                                // sample's exact lists), knn_probe and knn_escalation are timed
};

// Approximate search at GEMM speed: k-means cells (bf16 assignment), oversized cells split in two (by 2-means,
// or at the median of its direction when 2-means is lopsided) until none exceeds 1.5 rows / nlist;
// then every row is searched exactly against its own cell and the cells whose centroids are nearest
// to it (nprobe), each cell centred on its own mean (a small bf16 margin); then every listed pair is
// offered the other way (a row may list a neighbour from a cell it never probed, found by that
// neighbour's probe). Costs about nprobe / nlist of the exact search; misses only neighbours in
// cells neither row probed. When every cell is probed this is exact_self_knn.
SelfKnnResult clustered_self_knn(RowMatrix z, const ClusteredSearchOptions& options, MemoryBudget& memory);

// Fraction of the exact k nearest neighbours that `lists` found, over the sampled query rows. A listed
// neighbour whose distance equals the exact k-th distance counts (ties are interchangeable).
double recall_at_k(RowMatrix z, const NeighbourLists& lists, std::span<const int64_t> sample,
                   const ExactSearchOptions& options, MemoryBudget& memory);

// The same estimate with its spread, for the whole set's recall from a sample of its rows: the
// standard error of the ratio estimator (hits over listed slots, rows as the units: sum_s (hits_s -
// R valid_s)^2 over m (m - 1) mean(valid)^2, times (N - m) / (N - 1) for a sample of m of the
// N = z.rows rows, drawn without replacement) and the one-sided 95% lower confidence bound recall -
// 1.645 standard_error, clamped to [0, recall]. All NaN where nothing was measured; with one row, or
// every row of z, the error is 0 and lower = recall.
struct RecallEstimate {
  double recall = 0, standard_error = 0, lower = 0;
};
RecallEstimate recall_estimate_at_k(RowMatrix z, const NeighbourLists& lists, std::span<const int64_t> sample,
                                    const ExactSearchOptions& options, MemoryBudget& memory);

}  // namespace dq
