#pragma once
// The neighbour searches (public): exact tiled search, FAISS search, clustered search, recall@k.
// BGFDQ's graph (methods/knn/knn.h) and the selection metrics build on them. Distances are squared Euclidean. Every list is ranked by exact_sqdist (double
// accumulation over the float inputs), ties to the lower row index, so results do not depend on BLAS,
// tiling or the number of threads: float GEMM tiles only nominate candidates, with a proven error
// margin, and the candidates are then measured exactly.
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "core/memory_budget.h"

namespace dq {

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

struct ExactSearchOptions {
  int64_t k = 20;
  uint64_t tile_bytes = 256ull << 20;  // the float distance tiles (all threads together) stay under this
  // Self-search only: compute each tile pair (I, J >= I) once and feed both rows' lists (half the
  // GEMM work); false runs the one-sided search. Both give the same lists and pairs, byte for byte.
  bool symmetric = true;
};

// For each query row, the k nearest base rows. When self_in_base is non-empty, query i never lists
// base row self_in_base[i] (used when the queries are a sample of the base).
NeighbourLists exact_knn(RowMatrix queries, RowMatrix base, std::span<const int64_t> self_in_base,
                         const ExactSearchOptions& options, MemoryBudget& memory);

struct SelfKnnResult {
  NeighbourLists lists;
  // The smallest non-zero distances over unordered pairs i < j (each pair once), ascending, at most
  // the number asked for. Exact in exact_self_knn; in approximate_self_knn only pairs that the search
  // found are considered.
  std::vector<double> smallest_pairs;
  int64_t duplicates = 0;  // rows equal to a lower-index row
  bool pairs_exact = true;  // false when smallest_pairs only covers the pairs a search found
};

// Every row against every other row, and in the same pass the `pairs` smallest non-zero pair
// distances. Memory: one tile plus a centred copy of z; never a rows x rows matrix.
SelfKnnResult exact_self_knn(RowMatrix z, int64_t pairs, const ExactSearchOptions& options, MemoryBudget& memory);

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
  int64_t nlist = 0;    // k-means cells (0: round(sqrt(rows)), at most rows / 16)
  int64_t nprobe = 0;   // cells searched for each cell, itself included (0: 8)
  int64_t pairs = 50;
  uint64_t tile_bytes = 256ull << 20;
};

// Approximate search at GEMM speed: k-means cells (FAISS), then the rows of each cell are searched
// exactly (exact_knn) against the rows of the nprobe cells whose centroids are nearest to its own.
// Costs about nprobe / nlist of the exact search; misses only neighbours in cells not probed. When
// every cell is probed this is exact_self_knn.
SelfKnnResult clustered_self_knn(RowMatrix z, const ClusteredSearchOptions& options, MemoryBudget& memory);

// Fraction of the exact k nearest neighbours that `lists` found, over the sampled query rows. A listed
// neighbour whose distance equals the exact k-th distance counts (ties are interchangeable).
double recall_at_k(RowMatrix z, const NeighbourLists& lists, std::span<const int64_t> sample,
                   const ExactSearchOptions& options, MemoryBudget& memory);

}  // namespace dq
