#pragma once
// Reconstruction of dropped patches with a masked autoencoder (He et al., CVPR 2022; DQ uses a
// pretrained ViT-L MAE, methods-spec 2.3). Include only from models/*.cpp (pulls in LibTorch).
// Two sources: a user's TorchScript MAE, or a small ViT MAE sized for the patch grid and trained here
// on the training split (its ViT blocks are its own, kept inside mae.cpp). Either way the kept pixels
// are pasted back, so they stay bit-identical.
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/params.h"
#include "models/models.h"
#include "patching/patch_stage.h"
#include "patching/patches.h"

namespace dq {

class MaeReconstructor {
 public:
  virtual ~MaeReconstructor() = default;
  // images: n x C x H x W uint8, modified in place; masks: n x P, 1 = kept.
  virtual void reconstruct(uint8_t* images, int64_t n, std::span<const uint8_t> masks) = 0;
  // Training time, reconstruction error, cache hit.
  virtual std::map<std::string, double> metrics() const = 0;
  // The network as an artefact (kind "mae"): its key, the sha256 of its bytes, whether it was cached.
  virtual ArtefactUse artefact() const = 0;
};

// patches.mae.path (mae_path) set: loads that TorchScript file onto `device` (forward(images N x C x H x W float
// in [0,1], mask N x P float, 1 = kept) -> N x C x H x W in [0,1], the kept pixels unchanged;
// scripts/export_mae.py writes the paper's ViT-L MAE so); a missing or unloadable file, a wrong output
// shape or changed kept pixels (with their count) are a dq::Error naming the key and the file.
// Otherwise: the in-project MAE, loaded from cache_dir/mae/<key>.pt or trained (a damaged cache file
// is retrained and overwritten).
std::unique_ptr<MaeReconstructor> make_mae(const Dataset& dataset, const PatchOptions& patches, const PatchGrid& grid,
                                           const std::string& cache_dir, const ProgressFn& progress,
                                           torch::Device device = torch::kCPU);

// Cache key of the in-project MAE: the dataset's content, the MAE options (patches.mae, as the mae_* keys), the grid and the MAE code's
// identity (core/code_identity.h).
std::string mae_cache_key(const Dataset& dataset, const PatchOptions& patches, const PatchGrid& grid);

}  // namespace dq
