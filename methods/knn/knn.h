#pragma once
// KNN: neighbour identification as BGFDQ consumes it (paper Sec. 3.2, "NI"): the K nearest
// intra-class neighbours of every sample and lambda_C, exact or approximate, cached per class.
// The searches it builds on are public in methods/knn/search.h; methods/knn/README.md maps the folder.
#include <string>
#include <vector>

#include "core/memory_budget.h"
#include "core/stage_timer.h"
#include "methods/knn/search.h"
#include "methods/method.h"

namespace dq {

// knn = "auto" searches classes of up to this many rows exactly and larger ones with the clustered
// search (recall checked): the size where the clustered search plus its recall check became cheaper
// than the symmetric exact search on this project's machine (methods/docs/bgfdq.md, "knn: auto").
inline constexpr int64_t kAutoExactMaxRows = 10000;

// Which search builds the graph: parsed once from bgfdq's `knn` text, where any text other than
// "exact", "clustered" and "auto" is a FAISS index_factory string.
enum class KnnSearch { Exact, Clustered, Auto, Faiss };
struct KnnMode {
  KnnSearch search = KnnSearch::Exact;
  std::string factory{};  // the index_factory string, when search is Faiss
  static KnnMode parse(const std::string& text);  // "exact" | "clustered" | "auto" | a factory string
  std::string text() const;                       // the inverse of parse
  bool operator==(const KnnMode&) const = default;
};

struct KnnGraphOptions {
  KnnMode knn;                   // exact, clustered, auto (by class size) or a FAISS index
  int64_t k = 20;
  int64_t nlist = 0;             // clustered only
  int64_t nprobe = 0;            // clustered and FAISS IVF
  int64_t ef_search = 0;
  double rerank = 2.0;
  int64_t recall_sample = 1000;  // approximate search only; 0 skips the measurement
  // Approximate search only: below this sampled recall@k, the clustered search raises nprobe (then
  // searches exactly) and a FAISS index is replaced by the exact search; 0: recorded, not kept.
  // Needs recall_sample > 0 (KnnGraphOptions::check).
  double recall_target = 0.99;
  // Hold the target on the sample's one-sided 95% lower confidence bound instead of its estimate
  // (ApproximateReport::recall_lower): the class's recall then meets it with about 95% confidence,
  // where at the estimate it falls short about half the time the sample lands at the edge.
  bool recall_lower_bound = false;
  Nomination nomination = Nomination::Auto;  // the tiles' format (the graph is the same for every one)
  int64_t lambda_pairs = 50;     // lambda_C averages this many smallest non-zero pair distances
  uint64_t tile_bytes = 256ull << 20;
  bool exact() const { return knn.search == KnnSearch::Exact; }
  // dq::Error naming `where` for settings that contradict each other (a target without a sample).
  void check(const std::string& where) const;
  // For a class of `rows`: auto becomes exact or clustered; other modes are returned as they are.
  KnnGraphOptions resolved(int64_t rows) const;
  // Every option that changes the graph except k (the cache key; k names the file inside the entry).
  std::string canonical() const;
};

struct KnnGraph {
  NeighbourLists lists;       // class-local row indices
  double lambda_c = 0;        // mean of the smallest non-zero pair distances (0 if there are none)
  bool lambda_exact = true;   // false when it came from approximate candidates
  double recall = 1.0;        // recall@k against exact; NaN when not measured
  int64_t duplicates = 0;
  bool from_cache = false;
  int64_t computed_k = 0;     // k the search ran with: larger than lists.k when served as a prefix
  bool exact_search = true;   // the search that ran was the exact one ("auto" resolved)
  uint64_t declared_bytes = 0;  // what building it declared to the memory budget (re-declared on a cache
                                // hit, so declared_peak_bytes and OOM do not depend on what is cached)
  double recall_target = 0;     // the target the approximate search was held to (0: none)
  ApproximateReport search{};   // what the approximate search took: nprobe, rounds, exact fallback, cells
  Nomination nomination = Nomination::Fp32;  // the tiles' format
  bool on_device = false;       // computed on the cell's LibTorch device
  // The recall was measured and is below the target (the search could not keep it: say so).
  bool below_target() const { return recall_target > 0 && recall == recall && recall < recall_target; }
};

// Builds the graph of one class, or loads it from resources.cache_dir when resources.embedding_key (the
// embeddings' content hash) is set and an entry for (embeddings, class label, class ids, options,
// methods/knn/'s code identity) exists. Either way the graph is reported to resources.artefact (kind
// "knn_graph", its content hash) for the cell's record. An exact graph is
// also served from a cached exact graph of any larger k, cut to its first k neighbours per row
// (exact lists for k are prefixes of those for k' > k: same distances, same tie order), so a K sweep
// computes one graph when its largest K runs first. With a timer, the
// recall measurement is recorded as sub-stage "knn_recall" (knn=clustered also records knn_partition,
// knn_cell_prep, knn_probe and knn_escalation). With resources.device on a CUDA device and
// a LibTorch backend linked, the exact search runs there (methods/knn/device_search.h): same graph.
KnnGraph build_knn_graph(const ClassView& cls, const KnnGraphOptions& options, MemoryBudget& memory,
                         const CellResources& resources, StageTimer* timer = nullptr);

// The rows the approximate search's recall check measures in a class of `rows` searched rows with
// `label` (KnnGraphOptions::recall_sample of them, all when fewer): the first `count` of a shuffle
// seeded by the label alone, so a cached recall stays valid and a benchmark can measure on other
// rows. These are positions among the rows searched: the class's own rows unless duplicate reduction
// applied (a group of exact copies larger than max(k + 1, pairs) rows, with enough to save: then the
// search runs over the kept rows, internal/duplicate_reduction.h). count >= 0.
std::vector<int64_t> knn_recall_sample(int64_t rows, int64_t count, int64_t label);

}  // namespace dq
