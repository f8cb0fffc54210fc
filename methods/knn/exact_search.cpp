// The public exact searches: queries against a base, and a set against itself with lambda_C's pairs.
#include "core/error.h"
#include "methods/knn/internal/tiled_search.h"
#include "methods/size_limits.h"

namespace dq {

NeighbourLists exact_knn(RowMatrix queries, RowMatrix base, std::span<const int64_t> self_in_base,
                         const ExactSearchOptions& options, MemoryBudget& memory) {
  check_search_rows(base.rows, "the exact KNN search's base");  // before the base is read
  const std::vector<float> mean = detail::column_mean(base);
  const detail::PreparedRows prepared =
      detail::prepare_rows(base, mean.data(), memory, "knn centred base", options.nomination, detail::Bf16Use::Panels);
  detail::TiledSearch s;
  s.queries = queries;
  s.base = base;
  s.prepared_base = &prepared;
  s.base_mean = mean.data();
  s.self_in_base = self_in_base;
  s.options = options;
  return detail::tiled_search(s, memory).lists;
}

SelfKnnResult exact_self_knn(RowMatrix z, int64_t pairs, const ExactSearchOptions& options, MemoryBudget& memory,
                             const DuplicateGroups* known_groups) {
  const DuplicateGroups computed = known_groups ? DuplicateGroups{} : detail::finite_duplicate_groups(z);
  const DuplicateGroups& groups = known_groups ? *known_groups : computed;
  DQ_ASSERT(static_cast<int64_t>(groups.group.size()) == z.rows, "duplicate groups of other rows");
  detail::TiledSearch s;
  s.queries = z;
  s.base = z;
  s.self_search = true;
  s.groups = groups.group.data();
  s.pairs = pairs;
  s.options = options;
  detail::SearchOutput t;
  if (options.symmetric) {
    // Larger classes first find each row's neighbours within its k-means cell (a few percent of the
    // work): the symmetric search's limits start near their final values, and its blocks follow the
    // cells. The default threshold (search.h), bf16 nomination: above 128 dimensions the search
    // without seeds was as fast or faster at 5,000 and 10,000 rows on every 512-d zoo member
    // (BM_GoalExactNi) and on CIFAR-10's 256-d embeddings (10 classes of 5,000: 0.40 against 0.47 s),
    // while at 20,000 rows the seeds still won on the mixture (0.61 against 0.87 s). At 128
    // dimensions they won on every synthetic member at 5,000 rows (BM_GoalTenClassesBgfdqVsDqStreaming:
    // 0.27-0.34 against 0.35-0.40 s) and lost little on CIFAR-10 cut to its first 128 columns
    // (0.38 against 0.36 s).
    const int64_t seed_min_rows = options.seed_min_rows >= 0 ? options.seed_min_rows : z.cols <= 128 ? 2048 : 16384;
    detail::SeedLists seeds;
    if (z.rows >= seed_min_rows && options.k > 0) {
      seeds = detail::cell_seeds(z, options.k, options.nomination, options.tile_bytes, memory);
      s.seeds = &seeds;
    }
    t = detail::symmetric_self_search(s, memory);
  } else {
    const std::vector<float> mean = detail::column_mean(z);
    const detail::PreparedRows prepared = detail::prepare_rows(z, mean.data(), memory, "knn centred rows", options.nomination);
    s.prepared_queries = &prepared;
    s.prepared_base = &prepared;
    t = detail::tiled_search(s, memory);
  }
  SelfKnnResult out;
  out.lists = std::move(t.lists);
  out.smallest_pairs = std::move(t.smallest_pairs);
  out.duplicates = groups.duplicates;
  out.nomination = t.nomination;
  return out;
}

}  // namespace dq
