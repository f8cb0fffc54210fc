#include "harness/cell_artefacts.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/hashing.h"

namespace dq {

void ArtefactLog::add(const ArtefactUse& use) {
  if (!uses_.count(use.kind)) order_.push_back(use.kind);
  uses_[use.kind].push_back(use);
}

std::vector<CellArtefact> ArtefactLog::records() const {
  std::vector<CellArtefact> out;
  for (const std::string& kind : order_) {
    const auto& parts = uses_.at(kind);
    CellArtefact r;
    r.kind = kind;
    r.role = "input";
    r.parts = static_cast<int64_t>(parts.size());
    if (parts.size() == 1) {
      r.sha256 = parts[0].sha256;
      r.key = parts[0].key;
      r.bytes = parts[0].bytes;
      r.from_cache = parts[0].from_cache;
    } else {
      std::string shas, keys;
      bool keyed = true;
      r.bytes = 0;
      r.from_cache = true;
      for (const auto& p : parts) {
        shas += p.sha256 + "\n";
        keys += p.key + "\n";
        keyed = keyed && !p.key.empty();
        r.bytes = r.bytes < 0 || p.bytes < 0 ? -1 : r.bytes + p.bytes;
        r.from_cache = r.from_cache && p.from_cache;
      }
      r.sha256 = sha256_hex(shas);
      r.key = keyed ? sha256_hex(keys) : "";
    }
    out.push_back(std::move(r));
  }
  return out;
}

const std::vector<std::string>& upstream_kinds() {
  static const std::vector<std::string> kinds = {"dataset", "extractor_network", "embeddings"};
  return kinds;
}

UpstreamHashes upstream_hashes(const std::vector<CellArtefact>& artefacts) {
  UpstreamHashes out;
  for (const auto& a : artefacts)
    if (std::find(upstream_kinds().begin(), upstream_kinds().end(), a.kind) != upstream_kinds().end())
      out[a.kind] = a.sha256;
  return out;
}

UpstreamHashes with_code(UpstreamHashes hashes, const std::map<std::string, std::string>& code_identities) {
  for (const auto& [producer, identity] : code_identities) hashes["code:" + producer] = identity;
  return hashes;
}

std::vector<std::string> upstream_differences(const UpstreamHashes& a, const UpstreamHashes& b) {
  std::vector<std::string> out;
  for (const auto& [key, value] : a)
    if (auto it = b.find(key); it != b.end() && it->second != value) out.push_back(key);
  return out;
}

std::string short_hash(const std::string& sha256) { return sha256.substr(0, 8); }

std::string upstream_text(const UpstreamHashes& hashes) {
  std::string out;
  for (const auto& kind : upstream_kinds())
    if (auto it = hashes.find(kind); it != hashes.end())
      out += (out.empty() ? "" : ", ") + kind + " " + short_hash(it->second);
  for (const auto& [key, value] : hashes)
    if (key.rfind("code:", 0) == 0) out += (out.empty() ? "" : ", ") + key.substr(5) + " code " + short_hash(value);
  return out;
}

std::string differences_text(const UpstreamHashes& a, const UpstreamHashes& b) {
  std::string out;
  for (const auto& key : upstream_differences(a, b)) {
    const std::string name = key.rfind("code:", 0) == 0 ? key.substr(5) + " code" : key;
    out += fmt::format("{}{} {} vs {}", out.empty() ? "" : ", ", name, short_hash(a.at(key)), short_hash(b.at(key)));
  }
  return out;
}

std::vector<std::vector<size_t>> compatible_parts(const std::vector<UpstreamHashes>& hashes) {
  std::vector<std::vector<size_t>> parts;
  std::vector<size_t> unrecorded;
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (hashes[i].empty()) {
      unrecorded.push_back(i);
      continue;
    }
    auto fits = [&](const std::vector<size_t>& part) {
      return std::all_of(part.begin(), part.end(),
                         [&](size_t j) { return upstream_differences(hashes[i], hashes[j]).empty(); });
    };
    auto part = std::find_if(parts.begin(), parts.end(), fits);
    if (part == parts.end()) parts.push_back({i});
    else part->push_back(i);
  }
  if (!unrecorded.empty()) parts.push_back(std::move(unrecorded));
  return parts;
}

std::set<Producer> producers_used(const CellStagesRun& stages, const ArtefactLog& log) {
  std::set<Producer> out = {Producer::Dataset, Producer::Selection};
  if (stages.extractor) out.insert(Producer::Embeddings);
  if (log.has("extractor_network")) out.insert(Producer::ExtractorNetwork);
  if (log.has("knn_graph")) out.insert(Producer::KnnGraph);
  if (log.has("bins")) out.insert(Producer::Bins);
  if (log.has("patch_scores")) out.insert(Producer::PatchScores);
  if (log.has("mae")) out.insert(Producer::Mae);
  if (stages.patch_stage) out.insert(Producer::PatchStage);
  if (stages.metrics) out.insert(Producer::Metrics);
  if (stages.train) out.insert(Producer::Train);
  return out;
}

std::string code_identities_json(const std::set<Producer>& producers) {
  nlohmann::json j = nlohmann::json::object();
  for (const Producer p : producers) j[producer_name(p)] = code_identity(p);
  return j.dump();
}

std::map<std::string, std::string> parse_code_identities(const std::string& json) {
  std::map<std::string, std::string> out;
  if (json.empty()) return out;
  try {
    const auto j = nlohmann::json::parse(json);
    if (!j.is_object()) return out;
    for (const auto& [k, v] : j.items())
      if (v.is_string()) out[k] = v.get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return {};
  }
  return out;
}

}  // namespace dq
