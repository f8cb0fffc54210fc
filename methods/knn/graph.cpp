// The per-class KNN graph BGFDQ consumes: exact or approximate search, lambda_C, recall@k against exact
// on a sample of queries, and an on-disk cache so that every ratio, seed and NCS setting of a class
// reuses one search.
#include <faiss/impl/FaissException.h>
#include <faiss/index_factory.h>
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <numeric>
#include <optional>

#include "core/error.h"
#include "core/rng.h"
#include "methods/knn/device_search.h"
#include "methods/knn/internal/duplicate_reduction.h"
#include "methods/knn/internal/graph_cache.h"
#include "methods/knn/internal/lists.h"
#include "methods/knn/internal/recall.h"
#include "methods/knn/knn.h"
#include "methods/size_limits.h"

namespace dq {

KnnMode KnnMode::parse(const std::string& text) {
  if (text == "exact") return {KnnSearch::Exact};
  if (text == "clustered") return {KnnSearch::Clustered};
  if (text == "auto") return {KnnSearch::Auto};
  // Checked here, when the method is built (so a misspelt mode fails before any cell runs), by
  // letting FAISS build the index for a dimension most factory strings accept (2048: divisible by
  // every PQ/OPQ sub-quantizer count, above every PCA target). Whether it suits the embeddings' own
  // dimension is known only at search time.
  try {
    std::unique_ptr<faiss::Index> probe(faiss::index_factory(2048, text.c_str(), faiss::METRIC_L2));
  } catch (const faiss::FaissException& e) {
    const std::string why = e.what();
    const size_t cut = why.rfind(": ");
    throw Error(fmt::format("parameter 'knn' of method 'bgfdq': '{}' is neither exact, clustered, auto nor a FAISS "
                            "index_factory string (e.g. 'HNSW32', 'IVF1024,Flat', 'PCA64,Flat'); FAISS says: {}",
                            text, cut == std::string::npos ? why : why.substr(cut + 2)));
  }
  return {KnnSearch::Faiss, text};
}

std::string KnnMode::text() const {
  switch (search) {
    case KnnSearch::Exact: return "exact";
    case KnnSearch::Clustered: return "clustered";
    case KnnSearch::Auto: return "auto";
    case KnnSearch::Faiss: return factory;
  }
  return "?";
}

KnnGraphOptions KnnGraphOptions::resolved(int64_t rows) const {
  KnnGraphOptions o = *this;
  if (knn.search == KnnSearch::Auto) o.knn = {rows <= kAutoExactMaxRows ? KnnSearch::Exact : KnnSearch::Clustered};
  return o;
}

void KnnGraphOptions::check(const std::string& where) const {
  if (knn.search != KnnSearch::Exact && recall_target > 0 && recall_sample <= 0)
    throw Error(fmt::format("{}: recall_target={} needs recall_sample > 0 to be kept (or recall_target=0 to only "
                            "search)",
                            where, recall_target));
}

std::string KnnGraphOptions::canonical() const {
  DQ_ASSERT(knn.search != KnnSearch::Auto, "resolve knn=auto for the class before keying the cache");
  std::string s = fmt::format("knn={},lambda_pairs={}", knn.text(), lambda_pairs);
  if (knn.search == KnnSearch::Clustered) s += fmt::format(",nlist={},nprobe={},recall_sample={}", nlist, nprobe, recall_sample);
  else if (!exact()) s += fmt::format(",nprobe={},ef_search={},rerank={},recall_sample={}", nprobe, ef_search, rerank, recall_sample);
  if (!exact()) s += fmt::format(",recall_target={}", recall_target);
  if (!exact() && recall_lower_bound) s += ",recall_bound=lower95";  // absent by default: older keys stay
  return s;
}

std::vector<int64_t> knn_recall_sample(int64_t rows, int64_t count, int64_t label) {
  DQ_ASSERT(rows >= 0 && count >= 0, "a recall sample of a negative size");
  count = std::min(count, rows);
  std::vector<int64_t> order(static_cast<size_t>(rows));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(derive_seed(derive_seed(0x6B6E6E2D72656361ULL, "knn-recall-sample"), static_cast<uint64_t>(label)));
  for (int64_t i = 0; i < count; ++i)
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(i + static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(rows - i))))]);
  order.resize(static_cast<size_t>(count));
  return order;
}

namespace {

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;  // ascending order: the same sum every time
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

KnnGraph build_or_read_knn_graph(const ClassView& cls, const KnnGraphOptions& options, MemoryBudget& memory,
                                 const CellResources& resources, StageTimer* timer);

// The cell's record of the graph a class used (core/content_hash.h).
void report_graph(const CellResources& resources, const std::string& entry, const KnnGraph& g) {
  if (!resources.artefact) return;
  resources.artefact({.kind = "knn_graph",
                      .key = entry.empty() ? "" : std::filesystem::path(entry).filename().string() + "/k" + std::to_string(g.lists.k),
                      .sha256 = detail::graph_content_sha256(g),
                      .bytes = static_cast<int64_t>(g.lists.ids.size() * sizeof(int32_t) + g.lists.dist.size() * sizeof(float)),
                      .from_cache = g.from_cache});
}
}  // namespace

KnnGraph build_knn_graph(const ClassView& cls, const KnnGraphOptions& options, MemoryBudget& memory,
                         const CellResources& resources, StageTimer* timer) {
  check_class_search_size(cls.label, cls.size(), cls.d);  // before the cache is keyed or anything reserved
  KnnGraph g = build_or_read_knn_graph(cls, options, memory, resources, timer);
  report_graph(resources, resources.cache_dir.empty() || resources.embedding_key.empty()
                              ? ""
                              : detail::graph_cache_entry(cls, options.resolved(cls.size()), resources),
               g);
  return g;
}

namespace {
KnnGraph build_or_read_knn_graph(const ClassView& cls, const KnnGraphOptions& options, MemoryBudget& memory,
                                 const CellResources& resources, StageTimer* timer) {
  const RowMatrix z{cls.z, cls.size(), cls.d};
  const KnnGraphOptions o = options.resolved(z.rows);
  std::string entry, path;
  if (!resources.cache_dir.empty() && !resources.embedding_key.empty()) {
    entry = detail::graph_cache_entry(cls, o, resources);
    path = detail::graph_cache_file(entry, o.k);
    std::optional<KnnGraph> cached = detail::read_cached_graph(path, z.rows, o.k);
    // Only exact lists are prefixes of a larger k's: approximate candidates, pairs and recall@k
    // depend on k.
    if (!cached && o.exact()) cached = detail::read_cached_prefix(entry, z.rows, o.k);
    if (cached) {
      // A hit declares what the build declared, so that declared_peak_bytes and OOM do not depend on
      // what happens to be cached.
      (void)memory.reserve(cached->declared_bytes, "knn graph (re-declared from its cache: what building it declared)");
      return std::move(*cached);
    }
  }
  // A K sweep: with a cache, an exact graph is built once at the largest k the experiment asks of
  // these embeddings (resources.knn_sweep_k), stored under that k, and this k is served as its prefix,
  // whatever order the sweep's cells run in. (The rows of a class smaller than k + 1 hold kEmpty
  // entries past its end, in both graphs alike.)
  const int64_t build_k = (o.exact() && !path.empty() && resources.knn_sweep_k > o.k) ? resources.knn_sweep_k : o.k;
  if (build_k != o.k) path = detail::graph_cache_file(entry, build_k);
  const uint64_t baseline = memory.in_use();
  const ExactSearchOptions exact_options{build_k, o.tile_bytes, true, o.nomination};
  KnnGraph g;
  g.computed_k = build_k;
  g.exact_search = o.exact();
  SelfKnnResult r;
  // Rows of a large duplicate group past its first max(k + 1, pairs) are left out of the exact and the
  // clustered search and listed from their group afterwards: for the exact search the same lists and
  // lambda_C (internal/duplicate_reduction.h). The clustered search's recall sample and report then
  // refer to the rows searched. FAISS indexes see every row (IVF trains on them).
  // The groups are found once here and handed to the search.
  std::optional<DuplicateGroups> groups;
  std::optional<detail::DuplicateReduction> reduction;
  if (o.knn.search == KnnSearch::Exact || o.knn.search == KnnSearch::Clustered) {
    groups = detail::finite_duplicate_groups(z);
    reduction = detail::reduce_duplicates(z, *groups, build_k, o.lambda_pairs, memory);
  }
  const RowMatrix searched = reduction ? reduction->matrix() : z;
  const DuplicateGroups* searched_groups = reduction ? &reduction->searched_groups : groups ? &*groups : nullptr;
  const std::vector<int64_t> sample =
      o.exact() ? std::vector<int64_t>{} : knn_recall_sample(searched.rows, o.recall_sample, cls.label);
  if (o.exact()) {
    g.on_device = resources.device.starts_with("cuda") && device_knn_available();
    r = g.on_device ? device_exact_self_knn(searched, o.lambda_pairs, exact_options, DeviceSearchOptions{.device = resources.device}, memory)
                    : exact_self_knn(searched, o.lambda_pairs, exact_options, memory, searched_groups);
  } else if (o.knn.search == KnnSearch::Clustered) {
    r = clustered_self_knn(searched,
                           ClusteredSearchOptions{.k = o.k, .nlist = o.nlist, .nprobe = o.nprobe, .pairs = o.lambda_pairs,
                                                  .tile_bytes = o.tile_bytes, .nomination = o.nomination,
                                                  .recall_sample = sample, .recall_target = o.recall_target,
                                                  .recall_lower_bound = o.recall_lower_bound,
                                                  .groups = searched_groups,
                                                  .timer = timer},
                           memory);
  } else {
    r = approximate_self_knn(searched, ApproxSearchOptions{o.knn.factory, o.k, o.nprobe, o.ef_search, o.rerank, o.lambda_pairs}, memory);
    if (!sample.empty()) {
      std::optional<StageTimer::Scope> stage;
      if (timer) stage.emplace(timer, "knn_recall");
      const RecallEstimate measured = detail::recall_with_bound(
          searched, detail::sampled_truth(searched, sample, r.lists.k, exact_options, memory), r.lists, sample);
      r.report.recall = measured.recall;
      r.report.recall_lower = measured.lower;
    }
    r.report.rounds = 1;
    // Below the target a FAISS index has no cheaper next step here: the exact search replaces it.
    if (o.recall_target > 0 && (o.recall_lower_bound ? r.report.recall_lower : r.report.recall) < o.recall_target) {
      ApproximateReport report = r.report;
      r = exact_self_knn(searched, o.lambda_pairs, exact_options, memory);
      report.exact_fallback = true;
      report.rounds += 1;
      report.recall = 1.0;
      report.recall_lower = 1.0;
      r.report = report;
    }
  }
  MemoryBudget::Reservation expanded_reservation;  // the lists are reserved again by whoever keeps them
  if (reduction) {
    r.lists = detail::expand_lists(*reduction, r.lists, memory, expanded_reservation);
    r.duplicates = reduction->duplicates;
  }
  if (!o.exact()) {
    g.recall = r.report.recall;
    g.recall_target = o.recall_target;
    g.search = r.report;
  }
  g.nomination = r.nomination;
  g.lambda_exact = r.pairs_exact;
  g.lists = std::move(r.lists);
  g.lambda_c = mean(r.smallest_pairs);
  g.duplicates = r.duplicates;
  g.declared_bytes = memory.peak() - baseline;
  if (!path.empty()) detail::write_cached_graph(path, g);
  if (build_k != o.k) return detail::cut_to_prefix(std::move(g), o.k);
  return g;
}

}  // namespace

}  // namespace dq
