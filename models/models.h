#pragma once
// Networks, training and feature extraction. This header is LibTorch-free on purpose: the harness
// includes it without paying LibTorch's compile cost; only models/*.cpp include <torch/torch.h>.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/content_hash.h"
#include "core/param_table.h"
#include "core/params.h"

namespace dq {

struct Dataset;
struct ImageSet;
class MemoryBudget;

// Target networks (YAML `arch`), parsed once at the edge. Layouts and parameter counts: models/README.md.
enum class Arch {
  SmallCnn,          // small_cnn: 2 conv blocks + 128-unit hidden layer
  ResNet18,          // resnet18: CIFAR stem (3x3 conv, no max-pool), [2,2,2,2] basic blocks, 512-d
  ResNet18ImageNet,  // resnet18_imagenet: torchvision's 7x7 stride-2 stem + max-pool
  ResNet50,          // resnet50: CIFAR stem, [3,4,6,3] bottleneck blocks, 2048-d
  ResNet50ImageNet,  // resnet50_imagenet: torchvision's ResNet-50 (v1.5)
  Vit,               // vit: ViT for small images: 4x4 patches, width 192, depth 6, 3 heads, CLS token
  Airbench94,        // airbench94: Keller Jordan's airbench94 network (whitening conv + 3 conv groups), 256-d
};
const std::vector<std::string>& arch_names();  // YAML spellings, in enum order
Arch parse_arch(const std::string& name, const std::string& where);
const char* arch_name(Arch arch);

// Learning rate: cosine or constant per epoch, or piecewise linear per optimiser step (airbench94:
// from `lr_start` x lr at step 0 up to lr at `lr_peak_at` of the steps, down to `lr_end` x lr at the end).
enum class Schedule { Cosine, Constant, PiecewiseLinear };
enum class Augment { FlipCrop, Flip, Crop, None };  // random crop after padding, horizontal flip
// Horizontal flips: a fresh coin per image and epoch, or airbench's alternating flip (one coin per
// image before the first epoch; every odd epoch flips all images relative to it).
enum class FlipMode { Random, Alternating };
// The crop's padding: black pixels (torchvision's padding_mode 'constant'), or mirrored without
// repeating the edge ('reflect').
enum class PaddingMode { Constant, Reflect };
// Input normalisation: the training set's own per-channel mean/std, CIFAR's constants (methods-spec
// 2.4: mean .4914/.4822/.4465, std .2023/.1994/.2010), ImageNet's, [0,1] only, or the CIFAR-10
// training set's true per-channel std (.2470/.2435/.2616, same mean) as airbench uses.
enum class Normalize { Dataset, Cifar, ImageNet, None, Cifar10 };
// How many optimiser steps a coreset trains for: the recipe's epochs over the coreset (the papers'
// protocol), or the number of steps the same recipe takes on the full training set.
enum class Budget { Epochs, Steps };
enum class LossReduction { Mean, Sum };  // of the per-example cross-entropy over a batch

// Arithmetic precision and tensor layout of training and inference, the same keys on every device
// (models/compute_mode.h turns them into LibTorch settings). `bf16`: autocast to bfloat16 (convolutions
// and matrix products; weights, optimiser and loss stay float32). `channels_last`: NHWC activations
// and convolution weights.
enum class Precision { Fp32, Bf16 };
enum class MemoryFormat { Contiguous, ChannelsLast };
struct ComputeOptions {
  Precision precision = Precision::Fp32;
  MemoryFormat memory_format = MemoryFormat::Contiguous;
};

// YAML `device`: auto (the first CUDA device when the linked LibTorch has one, else the CPU), cpu,
// cuda (= cuda:0) or cuda:N.
struct DeviceSpec {
  enum class Kind { Auto, Cpu, Cuda } kind = Kind::Auto;
  int64_t index = 0;  // CUDA device ordinal
  std::string text() const;
};
// Throws dq::Error naming `where` for anything but auto | cpu | cuda | cuda:N.
DeviceSpec parse_device(const std::string& text, const std::string& where);
// The linked LibTorch as the experiment parser sees it (README "GPU": Debian's CPU-only 1.13 or PyPI's
// torch 2.x with CUDA compiled in).
struct TorchBuild {
  std::string version;       // "2.14.1"
  std::string cuda;          // the CUDA runtime compiled in, "13.0"; empty: CPU only
  int64_t cuda_devices = 0;  // CUDA devices visible to this process
  std::string text() const;  // "2.14.1 (CUDA 13.0)" or "1.13.1 (CPU only)"
};
// Validation hook for the experiment parser (LibTorch-free): throws dq::Error naming `where` when
// `device` asks for a CUDA device that the linked LibTorch cannot give: none compiled in, no GPU
// visible, or too few. dq_models installs the hook (models/device.cpp); a binary without LibTorch
// (dq_tests) accepts every device.
void check_device_available(const DeviceSpec& device, const std::string& where);
using TorchBuildFn = TorchBuild (*)();
void set_torch_build_hook(TorchBuildFn fn);
// The CUDA device `device` resolves to in this binary ("cuda:N"), or "" for the CPU: auto is cuda:0
// when the linked LibTorch sees a CUDA device (through the hook above; no LibTorch: the CPU).
std::string resolved_cuda_device(const DeviceSpec& device);

// The training recipe of a target network (YAML `train:`), its defaults those of the section. Parsed
// once by train_recipe_table(), one row per key bound to a member here; the keys after `device` came
// with the airbench94 recipe (../models/README.md, "Recipes"), and their defaults keep the earlier
// recipes exactly as they were.
struct TrainRecipe {
  Arch arch = Arch::SmallCnn;
  int64_t epochs = 3;
  int64_t min_steps = 0;     // at least this many SGD steps: small coresets get more epochs
  int64_t batch_size = 128;  // the section's; at_ratio() gives the effective one for a cell's ratio
  int64_t small_batch_size = 0;    // the batch at ratios <= small_batch_ratio (0 = batch_size always)
  double small_batch_ratio = 0.1;
  double lr = 0.05;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  Schedule schedule = Schedule::Cosine;
  Augment augment = Augment::FlipCrop;
  int64_t crop_padding = 2;
  Normalize normalize = Normalize::Dataset;
  int64_t threads = 0;       // 0 = all cores
  std::string device_text = "auto";  // the `device` key as written (it is part of cell ids and cache keys)
  DeviceSpec device;                 // device_text parsed (finish_train_recipe)

  double partial_epoch = 0;  // a last partial epoch: `epochs` + this fraction in all (airbench94: 9 + 0.9)
  Budget budget = Budget::Epochs;
  int64_t full_train_samples = 0;  // the full training set's size, for Budget::Steps (0: this set's)
  bool drop_last = false;    // drop each epoch's last partial batch (kept when it is the only batch)
  bool nesterov = false;
  // lr and weight_decay in airbench's decoupled form, per 1,024 examples: the SGD learning rate is
  // lr / (1024 (1 + 1/(1 - momentum))) and the SGD weight decay weight_decay x batch / that scale,
  // divided by the group's learning rate (so decay does not grow with a group's lr multiplier).
  bool decoupled = false;
  double bn_bias_lr_scale = 1;  // learning-rate multiplier of BatchNorm biases
  double label_smoothing = 0;
  LossReduction loss_reduction = LossReduction::Mean;
  double lr_start = 0.2, lr_peak_at = 0.23, lr_end = 0.07;  // Schedule::PiecewiseLinear knots
  // Lookahead EMA (0 = off): from epoch `lookahead_start_epoch`, every `lookahead_every` steps the
  // average w <- d w + (1 - d) net with d = lookahead_decay^every x (step / total)^lookahead_power is
  // copied back into the network, and once more at the end of every epoch.
  int64_t lookahead_every = 0;
  double lookahead_decay = 0.95, lookahead_power = 3;
  int64_t lookahead_start_epoch = 3;
  FlipMode flip_mode = FlipMode::Random;
  PaddingMode padding_mode = PaddingMode::Constant;
  int64_t tta_level = 0;     // test-time augmentation: 0 none, 1 mirror, 2 mirror + 1-px translations
  int64_t evaluations = 5;   // test evaluations, evenly spaced over the epochs (always after the last)
  // A whitening first layer (airbench94): filters from the patch covariance of the first
  // `whiten_images` training images, eigenvalues regularised by `whiten_eps`; its bias trains for the
  // first `whiten_bias_epochs` epochs.
  double whiten_eps = 5e-4;
  int64_t whiten_images = 5000;
  int64_t whiten_bias_epochs = 3;
  ComputeOptions compute;

  // The recipe a cell of keep ratio `ratio` trains with: at or below small_batch_ratio the batch is
  // small_batch_size (DQ's README: batch 16 when the keep ratio is <= 10%). The proxy extractor trains
  // on all data (1.0).
  TrainRecipe at_ratio(double ratio) const;
};
// The `train:` section's table: one row per key (type, default, bounds, help), in listing order.
const ParamTable<TrainRecipe>& train_recipe_table();
std::vector<ParamSpec> train_recipe_specs();  // train_recipe_table().specs()
// What the rows cannot say: parses device_text into device and refuses optimiser combinations the
// trainer cannot take (Nesterov without momentum, the decoupled form at momentum 1), a dq::Error naming
// `where` and the key.
void finish_train_recipe(TrainRecipe& recipe, const std::string& where);
// train_recipe_table().parse(validated), finished (errors name the params' owner).
TrainRecipe parse_train_recipe(const Params& validated);
// parse_train_recipe(params).at_ratio(ratio).
TrainRecipe train_recipe_from(const Params& params, double ratio = 1.0);
// The recipe as the section's named values (owner "train"): the text cell ids and seeds are made of.
Params train_recipe_params(const TrainRecipe& recipe);

// The recipe's budget protocol in words, for table captions, from its parameters as text (a cell's
// stored `train` config; empty: no training): equal epochs (a smaller coreset takes fewer steps), equal
// epochs with a floor of `min_steps` steps, or equal steps (`budget: steps`: every coreset trains for the
// optimiser steps of `epochs` (+ `partial_epoch`) on the full training set). The tables also show the
// steps each row took.
std::string budget_protocol_text(const std::map<std::string, std::string>& train);

// Named recipes (YAML `train: {preset: NAME, <overrides>}`): NAME -> key/value pairs applied before the
// file's own keys. `dq_cifar` is DQ's CIFAR recipe (methods-spec 2.4); the cpu_* presets finish on 2
// cores. Listed by `dqbench models`.
struct RecipePreset {
  std::string name;
  std::string description;
  std::vector<std::pair<std::string, std::string>> values;
};
const std::vector<RecipePreset>& recipe_presets();
// Throws dq::Error naming `where` and the known presets for an unknown name.
const RecipePreset& find_recipe_preset(const std::string& name, const std::string& where);

struct TrainResult {
  double final_top1 = 0;  // test top-1 after the last epoch, in [0, 1]
  double best_top1 = 0;   // best test top-1 over the evaluated epochs (DQ's reported metric)
  double final_top1_tta = -1;  // test top-1 with test-time augmentation after the last epoch (-1: tta_level 0)
  double final_train_loss = 0;  // mean per-example loss over the last epoch
  int64_t steps = 0;      // optimiser steps taken
  int64_t budget_steps = 0;  // the steps the budget asked for (== steps unless the set is empty)
  int64_t epochs = 0;     // epochs run (recipe epochs, or more for min_steps or the steps budget)
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
enum class ExtractorKind { Proxy, TorchScript, None };
const std::vector<std::string>& extractor_kind_names();  // YAML spellings, in enum order
const char* extractor_kind_name(ExtractorKind kind);
struct ExtractorOptions {
  ExtractorKind kind = ExtractorKind::Proxy;
  std::string path;     // torchscript: the .pt file
  std::string layer;    // torchscript: a method or top-level child to stop after; empty = forward
  int64_t seed = 0;     // proxy training seed (shared by all cells)
  TrainRecipe recipe;   // the proxy's training recipe; its device, threads, normalize and precision serve every kind
};
// The `extractor:` section's table: kind, path, layer, seed, then the recipe's rows.
const ParamTable<ExtractorOptions>& extractor_table();
std::vector<ParamSpec> extractor_specs();  // extractor_table().specs()
// extractor_table().parse(validated), its recipe finished (errors name the params' owner).
ExtractorOptions parse_extractor_options(const Params& validated);
// The options as the section's named values (owner "extractor"): the text of cell ids and cache keys.
Params extractor_params(const ExtractorOptions& options);

struct Embeddings {
  int64_t n = 0, d = 0;
  std::vector<float> z;  // n x d, row i = train sample i
  // A proxy extractor's own test top-1 (and with test-time augmentation), in [0, 1]; -1 when unknown
  // (another kind, or a cache written before these were kept).
  double extractor_top1 = -1, extractor_top1_tta = -1;
  bool from_cache = false;
  std::string key;       // cache key: dataset content, network content, extractor params, code identity
  std::string sha256;    // sha256 of their .npy bytes (written or read): what downstream caches key on
  std::string cache_path;
  // The network they were computed with (kind "extractor_network"; empty kind for extractor kind none).
  // The patch stage loads exactly this one (its sha256 is checked).
  ArtefactUse network;
};

// Keys and paths of the extractor's cached artefacts, LibTorch-free (models/extractor_keys.cpp) so that
// the cell runner can check the cache under `dqbench verify` without loading the models library.
// Cache key of the proxy extractor's weights: what they are trained from (the dataset's content, the
// extractor's parameters) and the training code's identity (core/code_identity.h).
std::string extractor_network_key(const Dataset& dataset, const ExtractorOptions& extractor);
// `cache_dir/embeddings/<key>.pt` for the proxy network of that key ("" without a cache).
std::string extractor_model_path(const std::string& cache_dir, const std::string& key);
// Cache key of the embeddings: the dataset's content, the network's content hash, the extractor's
// parameters and the embedding code's identity. A retrained network (other bytes) gives other keys.
std::string embeddings_key(const Dataset& dataset, const ExtractorOptions& extractor, const std::string& network_sha256);
// `cache_dir/embeddings/<key>.npy` ("" without a cache).
std::string embeddings_path(const std::string& cache_dir, const std::string& key);

// Computes (or loads from `cache_dir`, when not empty) the embeddings of the training split. A cached
// proxy network names its embeddings by its content hash (core/content_hash.h) without being loaded.
// LibTorch (models_library.h) for kinds proxy and torchscript; kind none is carried_features().
Embeddings compute_embeddings(const Dataset& dataset, const ExtractorOptions& extractor, const std::string& cache_dir,
                              const ProgressFn& progress);
// Extractor kind `none`: the features a dataset carries (synthetic_embeddings), keyed by the dataset's
// content identity, with the content hash of their .npy bytes. Throws dq::Error for a dataset with images only. LibTorch-free (carried_features.cpp).
Embeddings carried_features(const Dataset& dataset);

// The networks of the patch stage (models/patch_backend.cpp): GradCAM++ on the extractor network (or a
// TorchScript file, patches.cam_path), the extractor's embeddings for SPD, and the MAE (a TorchScript
// file, patches.mae_path, or the in-project MAE, trained once and cached under cache_dir/mae/).
// Networks load lazily, on first use.
class PatchBackend;
struct PatchOptions;
// `network_sha256` is Embeddings::network.sha256: the network GradCAM++ and SPD run is the one the
// embeddings came from, or the stage fails.
std::unique_ptr<PatchBackend> make_patch_backend(const Dataset& dataset, const ExtractorOptions& extractor,
                                                 const PatchOptions& patches, const std::string& cache_dir,
                                                 const std::string& network_sha256, const ProgressFn& progress);
// A network's identity card for `dqbench models`: parameter count for a given input.
struct NetworkInfo {
  std::string arch;
  int64_t feature_dim = 0;  // the embedding (penultimate layer) width
  int64_t parameters = 0;   // trainable parameters for (channels, height, width, num_classes)
};
NetworkInfo describe_network(Arch arch, int64_t channels, int64_t height, int64_t width, int64_t num_classes);
// `dqbench models`: every arch with its parameter counts (CIFAR-10 and ImageNet shapes), and the presets.
// (`dqbench models --format md`, the keys and presets as Markdown, is harness/param_docs.h's.)
void print_models_catalog(std::ostream& out);

// Threads for OpenMP and LibTorch (LibTorch starts with 1 thread on small machines). 0 = all cores.
// LibTorch-free (models_library.cpp): LibTorch gets the count when it is loaded.
void set_compute_threads(int64_t threads);
// The LibTorch of this program (models/device.cpp answers through set_torch_build_hook), loading the
// models library first where dqbench has not loaded it yet (models/models_library.h); version "" in a
// build without it. `dqbench --version` prints its text().
TorchBuild torch_build();
// For a cell's provenance, without loading anything: torch_build().text() when LibTorch is in this
// process, else the configured version with "(not loaded)" (a selection-only cell), "none" without it.
std::string torch_version();
}  // namespace dq
