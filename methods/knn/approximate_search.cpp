// Approximate neighbour identification through any FAISS index_factory string. The index only
// proposes candidates; they are re-ranked by exact_sqdist (ties to the lower index), so the lists
// carry exact distances and are wrong only where the index missed a neighbour.
#include <faiss/AutoTune.h>
#include <faiss/Index.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_factory.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/error.h"
#include "methods/knn/internal/lists.h"

namespace dq {
namespace {

using detail::SmallestPairs;

// Runs the OpenMP regions opened on this thread with one thread until it goes out of scope.
class OneOpenMpThread {
 public:
  OneOpenMpThread() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~OneOpenMpThread() { omp_set_num_threads(previous_); }
  OneOpenMpThread(const OneOpenMpThread&) = delete;
  OneOpenMpThread& operator=(const OneOpenMpThread&) = delete;

 private:
  int previous_;
};

std::unique_ptr<faiss::Index> make_index(int64_t d, const ApproxSearchOptions& o) {
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::index_factory(static_cast<int>(d), o.factory.c_str(), faiss::METRIC_L2));
  } catch (const faiss::FaissException& e) {
    throw Error(fmt::format("knn='{}': FAISS cannot build this index_factory string (use 'exact' or e.g. "
                            "'PCA64,Flat', 'IVF1024,Flat', 'HNSW32'): {}",
                            o.factory, e.what()));
  }
  faiss::ParameterSpace space;
  auto set = [&](const char* name, int64_t value) {
    if (value <= 0) return;
    try {
      space.set_index_parameter(index.get(), name, static_cast<double>(value));
    } catch (const faiss::FaissException& e) {
      throw Error(fmt::format("knn='{}': search parameter {}={} does not apply to this index: {}", o.factory, name,
                              value, e.what()));
    }
  };
  set("nprobe", o.nprobe);
  set("efSearch", o.ef_search);
  return index;
}

}  // namespace

SelfKnnResult approximate_self_knn(RowMatrix z, const ApproxSearchOptions& o, MemoryBudget& memory) {
  const int64_t n = z.rows, d = z.cols;
  detail::ApproximateStart start = detail::start_approximate(z, o.k, memory);
  const std::vector<int32_t>& groups = start.groups;
  SelfKnnResult& out = start.result;
  if (n <= 1) return std::move(out);

  // No factory string keeps more than a flat copy of the data (plus small tables), so reserve that.
  auto index_reservation = memory.reserve(static_cast<uint64_t>(n * d) * sizeof(float), "approximate knn index");
  std::unique_ptr<faiss::Index> index = make_index(d, o);
  {
    // FAISS inserts into some indexes (HNSW) from several threads at once, and the graph then depends
    // on which thread got there first: two runs of one cell gave different neighbour lists. Training
    // and filling run on one thread, so the same rows always give the same index (and selection); the
    // searches below stay parallel.
    const OneOpenMpThread one_thread;
    try {
      if (!index->is_trained) index->train(n, z.data);
      index->add(n, z.data);
    } catch (const faiss::FaissException& e) {
      throw Error(fmt::format("knn='{}': FAISS could not train/fill the index on {} rows: {}", o.factory, n, e.what()));
    }
  }

  // +1: the query itself normally comes back among its own results.
  const int64_t want = std::min<int64_t>(n, static_cast<int64_t>(std::ceil(o.rerank * static_cast<double>(o.k))) + 1);
  const int64_t block = std::min<int64_t>(n, 4096);
  auto buffer_reservation = memory.reserve(static_cast<uint64_t>(block * want) * (sizeof(float) + sizeof(faiss::Index::idx_t)),
                                           "approximate knn results");
  std::vector<float> distances(static_cast<size_t>(block * want));
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(block * want));
  const size_t kk = static_cast<size_t>(std::min<int64_t>(o.k, n - 1));
  std::vector<SmallestPairs> pair_sets(static_cast<size_t>(omp_get_max_threads()));
  for (auto& p : pair_sets) p.capacity = static_cast<size_t>(o.pairs);

  for (int64_t b0 = 0; b0 < n; b0 += block) {
    const int64_t nb = std::min(block, n - b0);
    index->search(nb, z.row(b0), want, distances.data(), labels.data());
#pragma omp parallel
    {
      detail::TopK top;
      SmallestPairs& pairs = pair_sets[static_cast<size_t>(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 16)
      for (int64_t r = 0; r < nb; ++r) {
        const int64_t i = b0 + r;
        top.reset(kk);
        for (int64_t t = 0; t < want; ++t) {
          const auto j = labels[static_cast<size_t>(r * want + t)];
          if (j < 0 || j == i) continue;
          const double dist = exact_sqdist(z.row(i), z.row(j), d);
          top.offer(dist, static_cast<int32_t>(j));
          if (groups[static_cast<size_t>(i)] != groups[static_cast<size_t>(j)]) pairs.offer(dist, i, j);
        }
        for (size_t t = 0; t < top.best.size(); ++t) {
          out.lists.ids[static_cast<size_t>(i * o.k) + t] = top.best[t].j;
          out.lists.dist[static_cast<size_t>(i * o.k) + t] = static_cast<float>(top.best[t].d);
        }
      }
    }
  }
  out.smallest_pairs = SmallestPairs::merged_distances(pair_sets, static_cast<size_t>(o.pairs));
  if (static_cast<int64_t>(out.smallest_pairs.size()) < o.pairs && out.duplicates > 0)
    out.smallest_pairs = detail::smallest_pairs_between_groups(z, groups, o.pairs, ExactSearchOptions{o.k}, memory);
  return std::move(out);
}

}  // namespace dq
