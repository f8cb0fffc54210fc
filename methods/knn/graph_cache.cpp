// The on-disk cache of per-class KNN graphs: one folder per (embeddings, class, ids, options but k),
// one file per k in it, written atomically; a missing, truncated or mismatching file is a miss.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/code_identity.h"
#include "core/error.h"
#include "core/hashing.h"
#include "methods/knn/internal/graph_cache.h"

namespace dq::detail {
namespace {

// The file layout (not the key): 04 adds what the approximate search took and the tiles' format, 05
// the clustered search's refinement rounds.
constexpr char kMagic[8] = {'D', 'Q', 'K', 'N', 'N', 'G', '0', '6'};

struct CacheHeader {
  char magic[8];
  int64_t n, k;
  double lambda_c, recall;
  int64_t lambda_exact, duplicates, exact_search;
  uint64_t declared_bytes;
  double recall_target, work_ratio;
  int64_t nprobe, rounds, exact_fallback, cells, largest_cell, nomination, on_device, refine_rounds;
  double recall_lower;
};

}  // namespace

std::string graph_cache_entry(const ClassView& cls, const KnnGraphOptions& o, const CellResources& resources) {
  const std::string ids_hash = sha256_hex(std::string_view(reinterpret_cast<const char*>(cls.ids.data()), cls.ids.size_bytes()));
  // The embeddings' content hash and the graph code's identity: other embeddings bytes or an edit of
  // methods/knn/ give another entry.
  const std::string key = fmt::format("knn-graph|{}|label={}|n={}|d={}|ids={}|{}|code={}", resources.embedding_key,
                                      cls.label, cls.size(), cls.d, ids_hash, o.canonical(),
                                      code_identity(Producer::KnnGraph));
  return (std::filesystem::path(resources.cache_dir) / "knn" / sha256_hex(key)).string();
}

std::string graph_cache_file(const std::string& entry, int64_t k) {
  return (std::filesystem::path(entry) / fmt::format("k{}.bin", k)).string();
}

std::optional<KnnGraph> read_cached_prefix(const std::string& entry, int64_t n, int64_t k) {
  std::error_code ec;
  std::vector<int64_t> larger;
  for (const auto& file : std::filesystem::directory_iterator(entry, ec)) {
    const std::string name = file.path().filename().string();
    int64_t stored = 0;
    size_t used = 0;
    if (name.size() < 6 || name[0] != 'k' || !name.ends_with(".bin")) continue;
    try {
      stored = std::stoll(name.substr(1, name.size() - 5), &used);
    } catch (const std::exception&) {
      continue;  // a temporary or foreign file
    }
    if (used == name.size() - 5 && stored > k) larger.push_back(stored);
  }
  std::sort(larger.begin(), larger.end());
  for (const int64_t stored : larger) {
    std::optional<KnnGraph> g = read_cached_graph(graph_cache_file(entry, stored), n, stored);
    if (!g) continue;
    return cut_to_prefix(std::move(*g), k);
  }
  return std::nullopt;
}

KnnGraph cut_to_prefix(KnnGraph g, int64_t k) {
  DQ_ASSERT(k <= g.lists.k, "a prefix cannot be longer than the lists it is cut from");
  const int64_t n = g.lists.n;
  NeighbourLists cut;
  cut.n = n;
  cut.k = k;
  cut.ids.resize(static_cast<size_t>(n * k));
  cut.dist.resize(static_cast<size_t>(n * k));
  for (int64_t i = 0; i < n; ++i) {
    std::copy_n(g.lists.ids_of(i), k, cut.ids.begin() + i * k);
    std::copy_n(g.lists.dist_of(i), k, cut.dist.begin() + i * k);
  }
  g.lists = std::move(cut);
  return g;
}

// A missing, truncated or mismatching file is a miss (the graph is rebuilt and the file replaced).
std::optional<KnnGraph> read_cached_graph(const std::string& path, int64_t n, int64_t k) {
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
  g.computed_k = k;
  g.exact_search = h.exact_search != 0;
  g.declared_bytes = h.declared_bytes;
  g.recall_target = h.recall_target;
  g.search.recall = h.recall;
  g.search.recall_lower = h.recall_lower;
  g.search.work_ratio = h.work_ratio;
  g.search.nprobe = h.nprobe;
  g.search.rounds = h.rounds;
  g.search.refine_rounds = h.refine_rounds;
  g.search.exact_fallback = h.exact_fallback != 0;
  g.search.cells = h.cells;
  g.search.largest_cell = h.largest_cell;
  g.nomination = static_cast<Nomination>(h.nomination);
  g.on_device = h.on_device != 0;
  return g;
}

namespace {
CacheHeader header_of(const KnnGraph& g) {
  CacheHeader h{};
  std::memcpy(h.magic, kMagic, 8);
  h.n = g.lists.n;
  h.k = g.lists.k;
  h.lambda_c = g.lambda_c;
  h.recall = g.recall;
  h.lambda_exact = g.lambda_exact;
  h.duplicates = g.duplicates;
  h.exact_search = g.exact_search;
  h.declared_bytes = g.declared_bytes;
  h.recall_target = g.recall_target;
  h.work_ratio = g.search.work_ratio;
  h.recall_lower = g.search.recall_lower;
  h.nprobe = g.search.nprobe;
  h.rounds = g.search.rounds;
  h.refine_rounds = g.search.refine_rounds;
  h.exact_fallback = g.search.exact_fallback;
  h.cells = g.search.cells;
  h.largest_cell = g.search.largest_cell;
  h.nomination = static_cast<int64_t>(g.nomination);
  h.on_device = g.on_device;
  return h;
}
}  // namespace

void write_cached_graph(const std::string& path, const KnnGraph& g) {
  // core/atomic_file.h: unique temporary, fsync, rename; a failed write is a warning, not a failed cell.
  write_cache_file(path, "KNN graph", [&](AtomicFileWriter& out) {
    const CacheHeader h = header_of(g);
    out.write(&h, sizeof h);
    out.write(g.lists.ids.data(), g.lists.ids.size() * sizeof(int32_t));
    out.write(g.lists.dist.data(), g.lists.dist.size() * sizeof(float));
  });
}

std::string graph_content_sha256(const KnnGraph& g) {
  const CacheHeader h = header_of(g);
  Sha256 digest;
  digest.update(&h, sizeof h);
  digest.update(g.lists.ids.data(), g.lists.ids.size() * sizeof(int32_t));
  digest.update(g.lists.dist.data(), g.lists.dist.size() * sizeof(float));
  return digest.hex();
}

}  // namespace dq::detail
