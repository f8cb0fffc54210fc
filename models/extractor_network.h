#pragma once
// The cell's feature extractor as a network (include only from models/*.cpp: pulls in LibTorch). The
// embed stage runs it over the training split; the patch stage reuses it for GradCAM++ and for SPD's
// embeddings of reconstructed images, so both see the same network and preprocessing.
#include <torch/script.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/content_hash.h"
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
  // The forward passes' precision and (kind proxy) layout: the extractor recipe's `precision` and
  // `memory_format` for the embed stage; the patch stage sets its own `precision` (patches table).
  ComputeOptions compute;
  // kind proxy: the trained network's test top-1 and top-1 with test-time augmentation, in [0, 1]
  // (-1 when unknown: a network cached before they were kept, or tta_level 0).
  double top1 = -1, top1_tta = -1;
  // What the network is as an artefact: kind "extractor_network", its key (proxy: the cache key of its
  // weights; torchscript: of the file's content), the sha256 of its bytes (the .pt written or read, or
  // the user's file) and whether it came from the cache.
  ArtefactUse artefact;

  // uint8 images (count x C x H x W) -> normalised float tensor on `device` (models/device_batch.h), in
  // the network's layout.
  torch::Tensor input(const uint8_t* pixels, int64_t count, int64_t c, int64_t h, int64_t w) const;
  // Normalised input -> N x d embeddings, the forward pass under bf16 autocast when compute.precision
  // says so (the embeddings come back float32 then; otherwise in the network's own dtype).
  torch::Tensor embed(const torch::Tensor& x);
};

// Builds the extractor of kind proxy or torchscript. A proxy network is loaded from `cache_dir`
// (when not empty) or trained on the full training split once and kept there (a damaged file is
// retrained and overwritten). With `expected_sha256`, a network whose bytes have another hash (the
// file was replaced after the embeddings were made from it, or retraining without a cache gave other
// weights) is a dq::Error: the patch stage must use the network its embeddings came from.
ExtractorNetwork load_extractor_network(const Dataset& dataset, const ExtractorOptions& extractor, const std::string& cache_dir,
                                        const ProgressFn& progress, const std::string& expected_sha256 = "");

// The proxy network's test accuracy, kept beside its model file (extractor_model_path): `<model>.top1.json`.
std::string extractor_record_path(const std::string& model_path);

}  // namespace dq
