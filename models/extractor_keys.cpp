// Cache keys and paths of the extractor's artefacts (the proxy network's weights, the embeddings):
// LibTorch-free, so that the cell runner can name and check them without loading the models library.
#include <filesystem>

#include "core/code_identity.h"
#include "core/hashing.h"
#include "datasets/dataset.h"
#include "models/models.h"

namespace dq {

std::string extractor_network_key(const Dataset& dataset, const ExtractorOptions& extractor) {
  return sha256_hex("extractor-network|dataset:" + dataset_identity(dataset) + "|extractor:" + extractor_params(extractor).canonical() +
                    "|code:" + code_identity(Producer::ExtractorNetwork));
}

std::string extractor_model_path(const std::string& cache_dir, const std::string& key) {
  if (cache_dir.empty()) return "";
  return (std::filesystem::path(cache_dir) / "embeddings" / (key + ".pt")).string();
}

std::string embeddings_key(const Dataset& dataset, const ExtractorOptions& extractor, const std::string& network_sha256) {
  return sha256_hex("embeddings|dataset:" + dataset_identity(dataset) + "|network:" + network_sha256 +
                    "|extractor:" + extractor_params(extractor).canonical() + "|code:" + code_identity(Producer::Embeddings));
}

std::string embeddings_path(const std::string& cache_dir, const std::string& key) {
  return cache_dir.empty() ? "" : (std::filesystem::path(cache_dir) / "embeddings" / (key + ".npy")).string();
}

}  // namespace dq
