// The on-disk cache of per-class KNN graphs: one folder per (embeddings, class, ids, options but k),
// one file per k in it, written atomically; a missing, truncated or mismatching file is a miss.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/hashing.h"
#include "methods/knn/internal/graph_cache.h"

namespace dq::detail {
namespace {

constexpr char kMagic[8] = {'D', 'Q', 'K', 'N', 'N', 'G', '0', '2'};

struct CacheHeader {
  char magic[8];
  int64_t n, k;
  double lambda_c, recall;
  int64_t lambda_exact, duplicates, exact_search;
};

}  // namespace

std::string graph_cache_entry(const ClassView& cls, const KnnGraphOptions& o, const Services& services) {
  const std::string ids_hash = sha256_hex(std::string_view(reinterpret_cast<const char*>(cls.ids.data()), cls.ids.size_bytes()));
  const std::string key = fmt::format("knn-graph-v2|{}|label={}|n={}|d={}|ids={}|{}", services.embedding_key, cls.label,
                                      cls.size(), cls.d, ids_hash, o.canonical());
  return (std::filesystem::path(services.cache_dir) / "knn" / sha256_hex(key)).string();
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
    NeighbourLists cut;
    cut.n = n;
    cut.k = k;
    cut.ids.resize(static_cast<size_t>(n * k));
    cut.dist.resize(static_cast<size_t>(n * k));
    for (int64_t i = 0; i < n; ++i) {
      std::copy_n(g->lists.ids_of(i), k, cut.ids.begin() + i * k);
      std::copy_n(g->lists.dist_of(i), k, cut.dist.begin() + i * k);
    }
    g->lists = std::move(cut);
    return g;
  }
  return std::nullopt;
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
  return g;
}

void write_cached_graph(const std::string& path, const KnnGraph& g) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(fmt::format("{}: cannot write the KNN graph cache", tmp));
    CacheHeader h{};
    std::memcpy(h.magic, kMagic, 8);
    h.n = g.lists.n;
    h.k = g.lists.k;
    h.lambda_c = g.lambda_c;
    h.recall = g.recall;
    h.lambda_exact = g.lambda_exact;
    h.duplicates = g.duplicates;
    h.exact_search = g.exact_search;
    out.write(reinterpret_cast<const char*>(&h), sizeof h);
    out.write(reinterpret_cast<const char*>(g.lists.ids.data()), static_cast<std::streamsize>(g.lists.ids.size() * sizeof(int32_t)));
    out.write(reinterpret_cast<const char*>(g.lists.dist.data()), static_cast<std::streamsize>(g.lists.dist.size() * sizeof(float)));
    if (!out) throw Error(fmt::format("{}: write failed (disk full?)", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);  // atomic: concurrent cells never read a half-written graph
  if (ec) throw Error(fmt::format("{}: cannot move the KNN graph cache into place: {}", path, ec.message()));
}

}  // namespace dq::detail
