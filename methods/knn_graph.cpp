// The per-class KNN graph BGFDQ consumes: exact or approximate search, lambda_C, recall@k against exact
// on a sample of queries, and an on-disk cache so that every ratio, seed and NCS setting of a class
// reuses one search.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/hashing.h"
#include "core/rng.h"
#include "methods/knn.h"

namespace dq {

std::string KnnGraphOptions::canonical() const {
  std::string s = fmt::format("knn={},k={},lambda_pairs={}", knn, k, lambda_pairs);
  if (knn == "clustered") s += fmt::format(",nlist={},nprobe={},recall_sample={}", nlist, nprobe, recall_sample);
  else if (!exact()) s += fmt::format(",nprobe={},ef_search={},rerank={},recall_sample={}", nprobe, ef_search, rerank, recall_sample);
  return s;
}

double recall_at_k(RowMatrix z, const NeighbourLists& lists, std::span<const int64_t> sample,
                   const ExactSearchOptions& options, MemoryBudget& memory) {
  DQ_ASSERT(lists.n == z.rows, "lists and matrix disagree");
  if (sample.empty()) return std::nan("");
  auto reservation = memory.reserve(sample.size() * static_cast<uint64_t>(z.cols) * sizeof(float), "recall queries");
  std::vector<float> queries(sample.size() * static_cast<size_t>(z.cols));
  for (size_t s = 0; s < sample.size(); ++s)
    std::copy_n(z.row(sample[s]), z.cols, queries.data() + s * static_cast<size_t>(z.cols));
  ExactSearchOptions o = options;
  o.k = lists.k;
  const NeighbourLists truth =
      exact_knn(RowMatrix{queries.data(), static_cast<int64_t>(sample.size()), z.cols}, z, sample, o, memory);
  int64_t hits = 0, total = 0;
  for (size_t s = 0; s < sample.size(); ++s) {
    const int32_t* exact_ids = truth.ids_of(static_cast<int64_t>(s));
    const float* exact_dist = truth.dist_of(static_cast<int64_t>(s));
    int64_t valid = 0;
    while (valid < truth.k && exact_ids[valid] >= 0) ++valid;
    if (valid == 0) continue;
    const float kth = exact_dist[valid - 1];
    const int32_t* found = lists.ids_of(sample[s]);
    const float* found_dist = lists.dist_of(sample[s]);
    for (int64_t t = 0; t < lists.k; ++t) {
      if (found[t] < 0) continue;
      const bool listed = std::find(exact_ids, exact_ids + valid, found[t]) != exact_ids + valid;
      hits += listed || found_dist[t] <= kth;
    }
    total += valid;
  }
  return total ? static_cast<double>(hits) / static_cast<double>(total) : std::nan("");
}

namespace {

constexpr char kMagic[8] = {'D', 'Q', 'K', 'N', 'N', 'G', '0', '2'};  // 02: + declared_bytes

struct CacheHeader {
  char magic[8];
  int64_t n, k;
  double lambda_c, recall;
  int64_t lambda_exact, duplicates;
  uint64_t declared_bytes;  // what building the graph declared above its baseline (re-declared on a hit)
};

std::string cache_path(const ClassView& cls, const KnnGraphOptions& o, const Services& services) {
  const std::string ids_hash = sha256_hex(std::string_view(reinterpret_cast<const char*>(cls.ids.data()), cls.ids.size_bytes()));
  const std::string key = fmt::format("knn-graph-v1|{}|label={}|n={}|d={}|ids={}|{}", services.embedding_key, cls.label,
                                      cls.size(), cls.d, ids_hash, o.canonical());
  return (std::filesystem::path(services.cache_dir) / "knn" / (sha256_hex(key) + ".bin")).string();
}

// A missing, truncated or mismatching file is a miss (the graph is rebuilt and the file replaced).
std::optional<KnnGraph> read_cached(const std::string& path, int64_t n, int64_t k, uint64_t& declared_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  CacheHeader h{};
  if (!in.read(reinterpret_cast<char*>(&h), sizeof h) || std::memcmp(h.magic, kMagic, 8) != 0 || h.n != n || h.k != k)
    return std::nullopt;
  KnnGraph g;
  g.lists.n = n;
  g.lists.k = k;
  g.lists.ids.resize(static_cast<size_t>(n * k));
  g.lists.dist.resize(static_cast<size_t>(n * k));
  if (!in.read(reinterpret_cast<char*>(g.lists.ids.data()), static_cast<std::streamsize>(g.lists.ids.size() * sizeof(int32_t))) ||
      !in.read(reinterpret_cast<char*>(g.lists.dist.data()), static_cast<std::streamsize>(g.lists.dist.size() * sizeof(float))))
    return std::nullopt;
  g.lambda_c = h.lambda_c;
  g.recall = h.recall;
  g.lambda_exact = h.lambda_exact != 0;
  g.duplicates = h.duplicates;
  g.from_cache = true;
  declared_bytes = h.declared_bytes;
  return g;
}

void write_cached(const std::string& path, const KnnGraph& g, uint64_t declared_bytes) {
  // core/atomic_file.h: unique temporary, fsync, rename; a failed write is a warning, not a failed cell.
  write_cache_file(path, "KNN graph", [&](AtomicFileWriter& out) {
    CacheHeader h{};
    std::memcpy(h.magic, kMagic, 8);
    h.n = g.lists.n;
    h.k = g.lists.k;
    h.lambda_c = g.lambda_c;
    h.recall = g.recall;
    h.lambda_exact = g.lambda_exact;
    h.duplicates = g.duplicates;
    h.declared_bytes = declared_bytes;
    out.write(&h, sizeof h);
    out.write(g.lists.ids.data(), g.lists.ids.size() * sizeof(int32_t));
    out.write(g.lists.dist.data(), g.lists.dist.size() * sizeof(float));
  });
}

// A fixed sample of query rows (independent of the cell seed, so a cached recall stays valid).
std::vector<int64_t> recall_sample(int64_t n, int64_t count, int64_t label) {
  count = std::min(count, n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(derive_seed(derive_seed(0x6B6E6E2D72656361ULL, "knn-recall-sample"), static_cast<uint64_t>(label)));
  for (int64_t i = 0; i < count; ++i)
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(i + static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(n - i))))]);
  order.resize(static_cast<size_t>(count));
  return order;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;  // ascending order: the same sum every time
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

}  // namespace

KnnGraph build_knn_graph(const ClassView& cls, const KnnGraphOptions& o, MemoryBudget& memory, const Services& services,
                         StageTimer* timer) {
  const RowMatrix z{cls.z, cls.size(), cls.d};
  std::string path;
  if (!services.cache_dir.empty() && !services.embedding_key.empty()) {
    path = cache_path(cls, o, services);
    uint64_t declared = 0;
    if (auto cached = read_cached(path, z.rows, o.k, declared)) {
      // A hit declares what the build declared, so that declared_peak_bytes and OOM do not depend on
      // what happens to be cached.
      (void)memory.reserve(declared, "knn graph (re-declared from its cache: what building it declared)");
      return std::move(*cached);
    }
  }
  const uint64_t baseline = memory.in_use();
  const ExactSearchOptions exact_options{o.k, o.tile_bytes};
  KnnGraph g;
  SelfKnnResult r;
  if (o.exact()) r = exact_self_knn(z, o.lambda_pairs, exact_options, memory);
  else if (o.knn == "clustered")
    r = clustered_self_knn(z, ClusteredSearchOptions{o.k, o.nlist, o.nprobe, o.lambda_pairs, o.tile_bytes}, memory);
  else
    r = approximate_self_knn(z, ApproxSearchOptions{o.knn, o.k, o.nprobe, o.ef_search, o.rerank, o.lambda_pairs}, memory);
  if (!o.exact() && o.recall_sample > 0) {
    std::optional<StageTimer::Scope> stage;
    if (timer) stage.emplace(timer, "knn_recall");
    g.recall = recall_at_k(z, r.lists, recall_sample(z.rows, o.recall_sample, cls.label), exact_options, memory);
  } else if (!o.exact()) {
    g.recall = std::nan("");
  }
  g.lambda_exact = r.pairs_exact;
  g.lists = std::move(r.lists);
  g.lambda_c = mean(r.smallest_pairs);
  g.duplicates = r.duplicates;
  if (!path.empty()) write_cached(path, g, memory.peak() - baseline);
  return g;
}

}  // namespace dq
