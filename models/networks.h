#pragma once
// LibTorch networks. Include only from models/*.cpp (this header pulls in <torch/torch.h>).
#include <torch/torch.h>

#include <string>

#include "models/device.h"
#include "models/models.h"

namespace dq {

// A network that can also return its penultimate-layer features (the embedding).
struct ClassifierImpl : torch::nn::Module {
  virtual torch::Tensor features(torch::Tensor x) = 0;
  virtual torch::Tensor classify(torch::Tensor features) = 0;
  virtual int64_t feature_dim() const = 0;
  torch::Tensor forward(torch::Tensor x) { return classify(features(x)); }
  // GradCAM++'s target layer (models/gradcam.h): the last spatial activation N x K x h x w, and the
  // class scores computed from it. Networks without one keep these defaults, which throw dq::Error.
  virtual torch::Tensor feature_map(torch::Tensor x);
  virtual torch::Tensor classify_map(torch::Tensor map);
  // A first layer whose weights are set from the training data rather than trained (airbench94's
  // whitening conv; the trainer initialises it, models/airbench94.h), or nullptr.
  virtual torch::nn::Conv2dImpl* whitening_layer() { return nullptr; }
};

// Builds `arch` for images of `channels` x `height` x `width` (layouts in models/README.md). The
// ResNets and the small CNN accept any size (adaptive pooling); the ViT's token count follows from the
// size, which must be a multiple of its patch (4 px), else dq::Error.
std::shared_ptr<ClassifierImpl> make_classifier(Arch arch, int64_t channels, int64_t num_classes, int64_t height = 32,
                                                int64_t width = 32);
// The same from the YAML spelling ("resnet18"); unknown names are a dq::Error.
std::shared_ptr<ClassifierImpl> make_classifier(const std::string& arch, int64_t channels, int64_t num_classes,
                                                int64_t height = 32, int64_t width = 32);

// A ViT of the standard layout (timm's VisionTransformer: conv patch embedding, CLS token, learned
// position embedding, pre-norm blocks with qkv bias and GELU MLP, final LayerNorm, linear head on CLS).
struct VitConfig {
  int64_t patch = 4, width = 192, depth = 6, heads = 3, mlp = 768;
};
std::shared_ptr<ClassifierImpl> make_vit(const VitConfig& config, int64_t channels, int64_t num_classes,
                                         int64_t height, int64_t width);

int64_t count_parameters(torch::nn::Module& module);

// Per-channel input normalisation, x = (pixel / 255 - mean[c]) / stddev[c] (both in [0,1] units).
struct Normalization {
  std::vector<float> mean, stddev;
};
// The normalisation as x = pixel * scale[c] + shift[c] (float, two roundings): scale = 1 / (255 std),
// shift = -mean / std. gather_images and images_to_device compute with these, so they agree bit for bit.
void normalization_affine(const Normalization& norm, int64_t c, std::vector<float>& scale, std::vector<float>& shift);
// `kind` for `images`: Dataset computes the set's own per-channel statistics; Cifar and ImageNet are the
// published constants (3-channel images only, else dq::Error); None is [0,1].
Normalization normalization_for(Normalize kind, const ImageSet& images);

// Random crop (offset dy, dx into the image padded by `pad` pixels on each side) and horizontal flip
// of one image, as torchvision's RandomCrop(padding) + RandomHorizontalFlip on uint8 pixels: the
// padding is black (pixel 0) before normalisation, or with `reflect` the image mirrored about its
// edge pixels (padding_mode 'reflect': column -1 is column 1).
struct CropFlip {
  int64_t pad = 0, dy = 0, dx = 0;
  bool flip = false;
  bool reflect = false;
};

// Gathers images `ids[0..count)` of `images` into `out` (count x C x H x W float32, contiguous),
// normalised; with `crops` (count entries), image k is cropped and flipped as crops[k] says. One pass
// over the pixels: no intermediate tensors.
void gather_images(const ImageSet& images, const int64_t* ids, int64_t count, const Normalization& norm,
                   const CropFlip* crops, float* out);

// `count` contiguous uint8 images (C x H x W each) -> a normalised float tensor.
torch::Tensor images_to_tensor(const uint8_t* pixels, int64_t count, int64_t c, int64_t h, int64_t w,
                               const Normalization& norm);

// Per-channel mean and standard deviation (in [0,1] units, floored at 1e-3) of `n` uint8 images of
// `c` channels x `hw` pixels each, planar; `mean` and `stddev` are resized to `c`.
void channel_statistics(const uint8_t* pixels, int64_t n, int64_t c, int64_t hw, std::vector<float>& mean,
                        std::vector<float>& stddev);

struct TrainRecipe;
struct TrainResult;
struct ImageSet;
// Where a training batch's crops and flips are applied; they are drawn on the host from dq::Rng either
// way, so every choice gives the same pixels bit for bit. Host: while gathering the batch
// (gather_images); Device: on the batch tensor on its device (models/device_batch.h
// augmented_images_to_device: the host copies only bytes); Auto: Device on CUDA, Host on the CPU
// (the faster there: models/README.md "Devices").
enum class AugmentOn { Auto, Host, Device };
// Trains `model` (already on `device`) on `train` with `recipe`, evaluating on `test` after each epoch.
TrainResult train_model_in_place(ClassifierImpl& model, const ImageSet& train, const ImageSet& test,
                                 const TrainRecipe& recipe, uint64_t seed, torch::Device device,
                                 const std::function<void(const std::string&)>& progress,
                                 AugmentOn augment_on = AugmentOn::Auto);

// Serialises a module (`archive`) and returns the sha256 of its bytes (the artefact's content hash);
// with a `path`, also writes them as that cache file through core/atomic_file.h: unique temporary,
// fsync, rename; a failure (disk full, unwritable folder) is a warning.
std::string write_archive_cache(torch::serialize::OutputArchive& archive, const std::string& path, const std::string& what);
// Reads the cache file `path` into `archive` and returns the sha256 of the bytes it was read from.
// Throws c10::Error for a damaged file (the caller's cache policy: retrain), dq::Error if unreadable.
std::string read_archive_cache(torch::serialize::InputArchive& archive, const std::string& path);

}  // namespace dq
