#include "core/code_identity.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "core/hashing.h"

namespace dq {

namespace {

constexpr const char* kNames[kProducerCount] = {"dataset",      "extractor_network", "embeddings", "knn_graph",
                                                "bins",         "patch_scores",      "mae",        "selection",
                                                "patch_stage",  "metrics",           "train"};

const detail::GeneratedProducerIdentity& generated(Producer producer) {
  const char* name = producer_name(producer);
  for (size_t i = 0; i < detail::kGeneratedProducerCount; ++i)
    if (std::strcmp(detail::kGeneratedProducerIdentities[i].name, name) == 0) return detail::kGeneratedProducerIdentities[i];
  DQ_ASSERT(false, "cmake/producers.cmake and core/code_identity.h name the same producers");
  return detail::kGeneratedProducerIdentities[0];
}

// The salt of `name` in DQ_CODE_IDENTITY_SALT ("" when none). Unknown names are an error: a misspelt
// salt would otherwise silently test nothing.
std::string salt_of(const std::string& name) {
  const char* env = std::getenv("DQ_CODE_IDENTITY_SALT");
  if (!env || !*env) return "";
  std::string found;
  std::string_view rest(env);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    const std::string key(item.substr(0, eq));
    bool known = false;
    for (const char* n : kNames) known = known || key == n;
    if (eq == std::string_view::npos || !known)
      throw Error(fmt::format("DQ_CODE_IDENTITY_SALT: '{}' is not producer=text with a producer of {}", item,
                              fmt::join(kNames, ", ")));
    if (key == name) found = std::string(item.substr(eq + 1));
  }
  return found;
}

}  // namespace

const char* producer_name(Producer producer) {
  const auto i = static_cast<size_t>(producer);
  DQ_ASSERT(i < kProducerCount, "producer out of range");
  return kNames[i];
}

std::string code_identity(Producer producer) {
  const std::string identity = generated(producer).identity;
  const std::string salt = salt_of(producer_name(producer));
  return salt.empty() ? identity : sha256_hex(identity + "|salt:" + salt);
}

std::map<std::string, std::string> code_identities() {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < kProducerCount; ++i) out[kNames[i]] = code_identity(static_cast<Producer>(i));
  return out;
}

std::string build_code_identity() { return detail::kGeneratedBuildIdentity; }

std::string library_versions() { return detail::kGeneratedLibraryVersions; }

size_t code_identity_source_count(Producer producer) { return generated(producer).sources; }

}  // namespace dq
