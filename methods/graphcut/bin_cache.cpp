// The bin cache: GraphCut is deterministic, so one class's bins serve every ratio, seed and
// bin-based method (DQ, ADQ, DQAS-approx) run on the same embeddings. Files, under
// <cache_dir>/dq_bins/: <key>.npy (int64 dataset ids, bins concatenated in order) and <key>.json
// (bin sizes and what the key was made of). The json is renamed into place last, so its presence
// means the pair is complete. The mode is part of the key: a dense mode's cached bins were made
// under a budget that held its matrix, and a streaming run must not let a dense one skip its OOM.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "core/atomic_file.h"
#include "core/code_identity.h"
#include "core/error.h"
#include "core/hashing.h"
#include "core/npy.h"
#include "methods/graphcut/graphcut.h"

namespace dq {
namespace {

constexpr const char* kFormat = "dq-graphcut-bins/v2";  // v2: + declared_bytes

// The embeddings' content hash, the class, the parameters and methods/graphcut/'s code identity.
std::string cache_key(const ClassView& cls, const BinParams& params, const std::string& embedding_key) {
  const std::string ids_hash =
      sha256_hex(std::string_view(reinterpret_cast<const char*>(cls.ids.data()), cls.ids.size() * sizeof(int64_t)));
  return sha256_hex(fmt::format("{}\nembedding={}\nlabel={}\nm={}\nd={}\nids={}\n{}\ncode={}", kFormat, embedding_key,
                                cls.label, cls.size(), cls.d, ids_hash, params.canonical(),
                                code_identity(Producer::Bins)));
}

// The bins' content hash: their sizes and dataset ids in order (what the .npy and .json hold).
std::string bins_content_sha256(const ClassView& cls, const ClassBins& bins) {
  Sha256 digest;
  digest.update("dq-bins/1\n");
  for (const auto& bin : bins) {
    digest.update(fmt::format("{}\n", bin.size()));
    for (int64_t p : bin) digest.update(&cls.ids[static_cast<size_t>(p)], sizeof(int64_t));
  }
  return digest.hex();
}

// Reads a complete cache entry; nullopt when absent. A present but inconsistent entry throws (the key
// covers the class's ids, so this means a damaged file).
std::optional<ClassBins> load_checked(const std::filesystem::path& json_path, const std::filesystem::path& npy_path,
                                      const ClassView& cls, uint64_t& declared_bytes) {
  if (!std::filesystem::exists(json_path)) return std::nullopt;
  auto bad = [&](const std::string& why) { return Error(why); };
  nlohmann::json meta;
  try {
    std::ifstream in(json_path);
    meta = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw bad(std::string("unreadable JSON: ") + e.what());
  }
  std::vector<int64_t> sizes;
  try {
    if (!meta.is_object() || meta.value("format", "") != kFormat) throw bad("not a GraphCut bin file");
    sizes = meta.at("bin_sizes").get<std::vector<int64_t>>();
    declared_bytes = meta.at("declared_bytes").get<uint64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("not a GraphCut bin file: ") + e.what());
  }
  const std::vector<int64_t> ids = read_npy(npy_path.string()).as_int64(npy_path.string());
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  if (total != cls.size() || static_cast<int64_t>(ids.size()) != total)
    throw bad(fmt::format("holds {} ids in bins summing to {}, the class has {}", ids.size(), total, cls.size()));

  std::unordered_map<int64_t, int64_t> position;
  position.reserve(cls.ids.size());
  for (size_t i = 0; i < cls.ids.size(); ++i) position.emplace(cls.ids[i], static_cast<int64_t>(i));
  std::vector<char> seen(cls.ids.size(), 0);
  ClassBins bins(sizes.size());
  size_t next = 0;
  for (size_t b = 0; b < sizes.size(); ++b)
    for (int64_t k = 0; k < sizes[b]; ++k, ++next) {
      auto it = position.find(ids[next]);
      if (it == position.end() || seen[static_cast<size_t>(it->second)])
        throw bad(fmt::format("id {} is not in class {} or appears twice", ids[next], cls.label));
      seen[static_cast<size_t>(it->second)] = 1;
      bins[b].push_back(it->second);
    }
  return bins;
}

// The cache policy (core/atomic_file.h): a damaged entry is a miss, rebuilt and replaced.
std::optional<ClassBins> load(const std::filesystem::path& json_path, const std::filesystem::path& npy_path,
                              const ClassView& cls, uint64_t& declared_bytes) {
  try {
    return load_checked(json_path, npy_path, cls, declared_bytes);
  } catch (const Error& e) {
    warn_cache_rebuild("bin", json_path.string(), e.what());
    return std::nullopt;
  }
}

void store(const std::filesystem::path& json_path, const std::filesystem::path& npy_path, const ClassView& cls,
           const BinParams& params, const std::string& embedding_key, const ClassBins& bins, double seconds,
           uint64_t declared_bytes) {
  std::vector<int64_t> ids;
  ids.reserve(cls.ids.size());
  std::vector<int64_t> sizes;
  for (const auto& bin : bins) {
    sizes.push_back(static_cast<int64_t>(bin.size()));
    for (int64_t p : bin) ids.push_back(cls.ids[static_cast<size_t>(p)]);
  }
  nlohmann::json meta = {{"format", kFormat},     {"embedding_key", embedding_key}, {"label", cls.label},
                         {"m", cls.size()},       {"d", cls.d},                     {"params", params.canonical()},
                         {"bin_sizes", sizes},    {"generation_seconds", seconds},
                         {"declared_bytes", declared_bytes}};
  // Atomic writes (core/atomic_file.h): concurrent cells may generate the same bins; the last rename
  // wins and both writers produce the same bytes. The .npy goes first: the .json marks the entry whole.
  if (!try_write_cache(npy_path.string(), "bin", [&] { write_npy(npy_path.string(), ids.data(), {static_cast<int64_t>(ids.size())}); }))
    return;
  const std::string text = meta.dump(1) + "\n";
  write_cache_file(json_path.string(), "bin", [&](AtomicFileWriter& out) { out.write(text.data(), text.size()); });
}

BinsResult bins_from_cache_or_generated(const ClassView& cls, const BinParams& params, const SelectContext& ctx);

}  // namespace

BinsResult graphcut_bins_for_class(const ClassView& cls, const BinParams& params, const SelectContext& ctx) {
  BinsResult r = bins_from_cache_or_generated(cls, params, ctx);
  if (ctx.resources.artefact) {
    int64_t ids = 0;
    for (const auto& bin : r.bins) ids += static_cast<int64_t>(bin.size());
    ctx.resources.artefact({.kind = "bins",
                            .key = ctx.resources.embedding_key.empty() ? "" : cache_key(cls, params, ctx.resources.embedding_key),
                            .sha256 = bins_content_sha256(cls, r.bins),
                            .bytes = ids * static_cast<int64_t>(sizeof(int64_t)),
                            .from_cache = r.from_cache});
  }
  return r;
}

namespace {
BinsResult bins_from_cache_or_generated(const ClassView& cls, const BinParams& params, const SelectContext& ctx) {
  auto stage = ctx.timer.scope("bin_generation");
  const auto& services = ctx.resources;
  if (services.cache_dir.empty() || services.embedding_key.empty())
    return {generate_graphcut_bins(cls, params, ctx.memory), false};

  const std::filesystem::path dir = std::filesystem::path(services.cache_dir) / "dq_bins";
  const std::string key = cache_key(cls, params, services.embedding_key);
  const auto json_path = dir / (key + ".json"), npy_path = dir / (key + ".npy");
  uint64_t declared = 0;
  if (auto cached = load(json_path, npy_path, cls, declared)) {
    // A hit declares what the generation declared, so that declared_peak_bytes and OOM do not depend
    // on what happens to be cached.
    (void)ctx.memory.reserve(declared, "GraphCut bins (re-declared from their cache: what generating them declared)");
    return {std::move(*cached), true};
  }

  const uint64_t baseline = ctx.memory.in_use();
  const auto start = std::chrono::steady_clock::now();
  BinsResult result{generate_graphcut_bins(cls, params, ctx.memory), false};
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  store(json_path, npy_path, cls, params, services.embedding_key, result.bins, seconds, ctx.memory.peak() - baseline);
  return result;
}

}  // namespace

}  // namespace dq
