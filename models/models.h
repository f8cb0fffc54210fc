#pragma once
// Networks, training and feature extraction. This header is LibTorch-free on purpose: the harness
// includes it without paying LibTorch's compile cost; only models/*.cpp include <torch/torch.h>.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/params.h"

namespace dq {

struct Dataset;
struct ImageSet;
class MemoryBudget;

// The training recipe of a target network (YAML `train:`). Declared once in train_recipe_specs().
struct TrainRecipe {
  std::string arch;          // small_cnn | resnet18 (CIFAR stem) | resnet18_imagenet
  int64_t epochs = 0;
  int64_t min_steps = 0;     // at least this many SGD steps: small coresets get more epochs
  int64_t batch_size = 0;
  double lr = 0;
  double momentum = 0;
  double weight_decay = 0;
  std::string schedule;      // cosine | constant
  std::string augment;       // flip_crop | flip | crop | none
  int64_t crop_padding = 0;
  int64_t threads = 0;       // 0 = all cores
  std::string device;        // auto | cpu | cuda:N
};
std::vector<ParamSpec> train_recipe_specs();
TrainRecipe train_recipe_from(const Params& params);

struct TrainResult {
  double final_top1 = 0;  // test top-1 after the last epoch, in [0, 1]
  double best_top1 = 0;   // best test top-1 over the evaluated epochs (DQ's reported metric)
  double final_train_loss = 0;
  int64_t steps = 0;
  int64_t epochs = 0;     // epochs run (recipe epochs, or more for min_steps)
  int64_t train_samples = 0;
};

using ProgressFn = std::function<void(const std::string&)>;

// Trains `recipe.arch` from scratch on `train` and evaluates on the whole `test` split.
// Deterministic for a given seed and thread count on CPU.
TrainResult train_and_evaluate(const ImageSet& train, const ImageSet& test, int64_t num_classes,
                               const TrainRecipe& recipe, uint64_t seed, const ProgressFn& progress);

// Feature extractor (YAML `extractor:`): kind proxy (a network trained on the full training set,
// then its penultimate layer), torchscript (a user's file mapping N x C x H x W float to N x d), or
// none (the dataset already carries features).
std::vector<ParamSpec> extractor_specs();

struct Embeddings {
  int64_t n = 0, d = 0;
  std::vector<float> z;  // n x d, row i = train sample i
  bool from_cache = false;
  std::string key;       // identity: dataset fingerprint + extractor params
  std::string cache_path;
};

// Computes (or loads from `cache_dir`, when not empty) the embeddings of the training split.
Embeddings compute_embeddings(const Dataset& dataset, const Params& extractor, const std::string& cache_dir,
                              const ProgressFn& progress);

// The networks of the patch stage (models/patch_backend.cpp): GradCAM++ on the extractor network (or a
// TorchScript file, patches.cam_path), the extractor's embeddings for SPD, and the MAE (a TorchScript
// file, patches.mae_path, or the in-project MAE, trained once and cached under cache_dir/mae/).
// Networks load lazily, on first use.
class PatchBackend;
std::unique_ptr<PatchBackend> make_patch_backend(const Dataset& dataset, const Params& extractor,
                                                 const Params& patches, const std::string& cache_dir,
                                                 const ProgressFn& progress);

// Threads for LibTorch and OpenMP (LibTorch starts with 1 thread on small machines). 0 = all cores.
void set_compute_threads(int64_t threads);
std::string torch_version();
}  // namespace dq
