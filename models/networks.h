#pragma once
// LibTorch networks. Include only from models/*.cpp (this header pulls in <torch/torch.h>).
#include <torch/torch.h>

#include <string>

namespace dq {

// Bump whenever a network's definition changes: cached embeddings are keyed on it.
inline constexpr const char* kNetworksVersion = "2";

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
};

// Builds `arch` for images of `channels` channels: small_cnn (2 conv blocks + 128-unit hidden layer),
// resnet18 (CIFAR stem: 3x3 conv, no max-pool, 512-d) or resnet18_imagenet (7x7 stride-2 stem +
// max-pool). Throws dq::Error for an unknown arch.
std::shared_ptr<ClassifierImpl> make_classifier(const std::string& arch, int64_t channels, int64_t num_classes);

// uint8 images [i0, i1) of an N x C x H x W buffer -> float tensor, scaled to [0,1] and normalised
// per channel with `mean`/`std`.
torch::Tensor images_to_tensor(const uint8_t* pixels, int64_t count, int64_t c, int64_t h, int64_t w,
                               const std::vector<float>& mean, const std::vector<float>& std);

// Per-channel mean and std of a uint8 image buffer (in [0,1] units).
void channel_statistics(const uint8_t* pixels, int64_t n, int64_t c, int64_t hw, std::vector<float>& mean,
                        std::vector<float>& std);

torch::Device resolve_device(const std::string& device);

struct TrainRecipe;
struct TrainResult;
struct ImageSet;
// Trains `model` (already on `device`) on `train` with `recipe`, evaluating on `test` after each epoch.
TrainResult train_model_in_place(ClassifierImpl& model, const ImageSet& train, const ImageSet& test,
                                 const TrainRecipe& recipe, uint64_t seed, torch::Device device,
                                 const std::function<void(const std::string&)>& progress);

}  // namespace dq
