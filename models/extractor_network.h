#pragma once
// The cell's feature extractor as a network (include only from models/*.cpp: pulls in LibTorch). The
// embed stage runs it over the training split; the patch stage reuses it for GradCAM++ and for SPD's
// embeddings of reconstructed images, so both see the same network and preprocessing.
#include <torch/script.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/params.h"
#include "models/models.h"
#include "models/networks.h"

namespace dq {

struct ExtractorNetwork {
  std::shared_ptr<ClassifierImpl> classifier;        // kind proxy: the trained network
  std::optional<torch::jit::script::Module> script;  // kind torchscript: the user's module
  Normalization norm;                                // per-channel input normalisation (extractor `normalize`)
  std::string layer;                                 // torchscript: the `layer` cut (empty: the module's output)
  std::string path;                                  // torchscript: the file (for messages)
  torch::Device device = torch::kCPU;

  // uint8 images (count x C x H x W) -> normalised float tensor on `device` (models/device_batch.h).
  torch::Tensor input(const uint8_t* pixels, int64_t count, int64_t c, int64_t h, int64_t w) const;
  // Normalised input -> N x d embeddings.
  torch::Tensor embed(const torch::Tensor& x);
};

// Identity of the embeddings of `dataset` under `extractor` params (the embedding cache key).
std::string embedding_key(const Dataset& dataset, const Params& extractor);

// Builds the extractor of kind proxy or torchscript. A proxy network is trained on the full training
// split once and kept at `model_path` (when not empty; a damaged file is retrained and overwritten).
ExtractorNetwork load_extractor_network(const Dataset& dataset, const Params& extractor, const std::string& model_path,
                                        const ProgressFn& progress);

// `cache_dir/embeddings/<key>.pt` for the proxy network behind the embeddings of `key` ("" without a cache).
std::string extractor_model_path(const std::string& cache_dir, const std::string& key);

}  // namespace dq
