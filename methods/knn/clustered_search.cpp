// Clustered approximate search: FAISS k-means splits the class into cells; every cell is searched
// with the exact tiled search against the union of its nprobe nearest cells. All the arithmetic is
// GEMM (unlike FAISS's IVF scan, which runs without SIMD in Debian's generic build), so the search
// costs about nprobe / nlist of the exact one, and the lists it returns are exact within the probed
// cells (same distances, same tie order).
#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>
#include <fmt/format.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>

#include "core/blas_threads.h"
#include "core/error.h"
#include "methods/knn/internal/lists.h"
#include "methods/knn/internal/prepared_rows.h"
#include "methods/knn/internal/tiled_search.h"

namespace dq {
namespace {

using idx_t = faiss::Index::idx_t;

std::vector<float> gather(RowMatrix z, const std::vector<int64_t>& rows) {
  std::vector<float> out(rows.size() * static_cast<size_t>(z.cols));
  for (size_t r = 0; r < rows.size(); ++r) std::copy_n(z.row(rows[r]), z.cols, out.data() + r * static_cast<size_t>(z.cols));
  return out;
}

}  // namespace

SelfKnnResult clustered_self_knn(RowMatrix z, const ClusteredSearchOptions& o, MemoryBudget& memory) {
  const int64_t n = z.rows, d = z.cols;
  const int64_t nlist = o.nlist > 0 ? std::min(o.nlist, n)
                                    : std::clamp<int64_t>(std::llround(std::sqrt(static_cast<double>(n))), 1,
                                                          std::max<int64_t>(1, n / 16));
  const int64_t nprobe = std::min(nlist, o.nprobe > 0 ? o.nprobe : 8);
  const ExactSearchOptions exact{o.k, o.tile_bytes};
  if (nprobe >= nlist) return exact_self_knn(z, o.pairs, exact, memory);  // every cell probed: exact

  detail::ApproximateStart start = detail::start_approximate(z, o.k, memory);
  const std::vector<int32_t>& groups = start.groups;
  SelfKnnResult& out = start.result;

  // k-means on a sample (64 rows per cell, 10 iterations: the cells only have to be local, not optimal).
  faiss::ClusteringParameters cp;
  cp.niter = 10;
  cp.max_points_per_centroid = 64;
  cp.min_points_per_centroid = 1;  // small classes: no FAISS warning, fewer rows per cell is fine
  cp.seed = 20260101;
  faiss::Clustering clustering(static_cast<int>(d), static_cast<int>(nlist), cp);
  faiss::IndexFlatL2 quantizer(d);
  auto assign_reservation = memory.reserve(static_cast<uint64_t>(n) * (sizeof(float) + sizeof(idx_t)), "knn cell assignment");
  std::vector<float> assign_dist(static_cast<size_t>(n));
  std::vector<idx_t> cell(static_cast<size_t>(n));
  try {
    clustering.train(n, z.data, quantizer);
    quantizer.search(n, z.data, 1, assign_dist.data(), cell.data());
  } catch (const faiss::FaissException& e) {
    throw Error(fmt::format("knn='clustered': k-means with {} cells on {} rows failed: {}", nlist, n, e.what()));
  }
  std::vector<float> probe_dist(static_cast<size_t>(nlist * nprobe));
  std::vector<idx_t> probes(static_cast<size_t>(nlist * nprobe));
  quantizer.search(nlist, clustering.centroids.data(), nprobe, probe_dist.data(), probes.data());

  std::vector<std::vector<int64_t>> members(static_cast<size_t>(nlist));
  for (int64_t i = 0; i < n; ++i) members[static_cast<size_t>(cell[static_cast<size_t>(i)])].push_back(i);

  // Cells run side by side, one per thread, each with single-threaded GEMMs: a cell's GEMM is small
  // (about sqrt(M) x nprobe*sqrt(M)), so handing it to a BLAS thread pool costs more than it saves.
  // Every cell writes only its own rows, and each list is exact within its cell's probe set, so the
  // schedule does not change the output.
  std::vector<detail::SmallestPairs> pair_sets(static_cast<size_t>(omp_get_max_threads()));
  for (auto& p : pair_sets) p.capacity = static_cast<size_t>(o.pairs);
  // Centred once for the whole class; each cell gathers its rows (and their norms) from here.
  const std::vector<float> mean = detail::column_mean(z);
  const detail::PreparedRows prepared = detail::prepare_rows(z, mean.data(), memory, "knn centred rows");
  const SingleThreadedBlas single_threaded_blas;
  std::exception_ptr failure;  // exceptions must not cross the OpenMP region: rethrown after it
#pragma omp parallel
  {
    std::vector<int64_t> base_rows, self;
    detail::SmallestPairs& pairs = pair_sets[static_cast<size_t>(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < nlist; ++c) {
      const auto& queries = members[static_cast<size_t>(c)];
      if (queries.empty()) continue;
      try {
        // Base: the rows of the probed cells (this cell included), ascending, so that exact_knn's ties
        // to the lower base index are ties to the lower class row.
        base_rows = queries;
        for (int64_t t = 0; t < nprobe; ++t) {
          const idx_t p = probes[static_cast<size_t>(c * nprobe + t)];
          if (p >= 0 && p != c)
            base_rows.insert(base_rows.end(), members[static_cast<size_t>(p)].begin(), members[static_cast<size_t>(p)].end());
        }
        std::sort(base_rows.begin(), base_rows.end());
        self.resize(queries.size());
        for (size_t q = 0; q < queries.size(); ++q)
          self[q] = std::lower_bound(base_rows.begin(), base_rows.end(), queries[q]) - base_rows.begin();

        auto gather_reservation = memory.reserve(
            (queries.size() + base_rows.size()) * static_cast<uint64_t>(d) * sizeof(float), "knn cell rows");
        const std::vector<float> q_rows = gather(z, queries), b_rows = gather(z, base_rows);
        const detail::PreparedRows q_prepared = detail::gather_rows(prepared, queries, memory, "knn cell queries");
        const detail::PreparedRows b_prepared = detail::gather_rows(prepared, base_rows, memory, "knn cell base");
        detail::TiledSearch search;
        search.queries = RowMatrix{q_rows.data(), static_cast<int64_t>(queries.size()), d};
        search.base = RowMatrix{b_rows.data(), static_cast<int64_t>(base_rows.size()), d};
        search.prepared_queries = &q_prepared;
        search.prepared_base = &b_prepared;
        search.self_in_base = self;
        search.options = exact;
        const NeighbourLists local = detail::tiled_search(search, memory).lists;
        for (size_t q = 0; q < queries.size(); ++q) {
          const int64_t i = queries[q];
          for (int64_t t = 0; t < o.k; ++t) {
            const int32_t j_local = local.ids_of(static_cast<int64_t>(q))[t];
            if (j_local < 0) break;
            const int64_t j = base_rows[static_cast<size_t>(j_local)];
            out.lists.ids[static_cast<size_t>(i * o.k + t)] = static_cast<int32_t>(j);
            out.lists.dist[static_cast<size_t>(i * o.k + t)] = local.dist_of(static_cast<int64_t>(q))[t];
            if (groups[static_cast<size_t>(i)] != groups[static_cast<size_t>(j)])
              pairs.offer(exact_sqdist(z.row(std::min(i, j)), z.row(std::max(i, j)), d), i, j);
          }
        }
      } catch (...) {
#pragma omp critical(dq_clustered_failure)
        if (!failure) failure = std::current_exception();
      }
    }
  }
  if (failure) std::rethrow_exception(failure);  // e.g. dq::OutOfMemory from a cell's buffers
  out.smallest_pairs = detail::SmallestPairs::merged_distances(pair_sets, static_cast<size_t>(o.pairs));
  return std::move(out);
}

}  // namespace dq
