#include "models/airbench94.h"

#include <fmt/format.h>

#include "core/error.h"

namespace dq {
namespace {

namespace nn = torch::nn;

// A 3x3 convolution ('same' padding, no bias), initialised as LibTorch does, then Dirac on its first
// filters.
nn::Conv2d identity_started_conv(int64_t in, int64_t out) {
  nn::Conv2d conv(nn::Conv2dOptions(in, out, 3).padding(1).bias(false));
  dirac_first_filters(conv->weight);
  return conv;
}

nn::BatchNorm2d fixed_scale_batchnorm(int64_t channels, const Airbench94Config& config) {
  nn::BatchNorm2d bn(nn::BatchNorm2dOptions(channels).eps(config.bn_eps).momentum(config.bn_momentum));
  bn->weight.requires_grad_(false);  // scale fixed at 1; the bias trains
  return bn;
}

struct ConvGroupImpl : nn::Module {
  nn::Conv2d conv1{nullptr}, conv2{nullptr};
  nn::BatchNorm2d norm1{nullptr}, norm2{nullptr};
  ConvGroupImpl(int64_t in, int64_t out, const Airbench94Config& config) {
    conv1 = register_module("conv1", identity_started_conv(in, out));
    norm1 = register_module("norm1", fixed_scale_batchnorm(out, config));
    conv2 = register_module("conv2", identity_started_conv(out, out));
    norm2 = register_module("norm2", fixed_scale_batchnorm(out, config));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::gelu(norm1->forward(torch::max_pool2d(conv1->forward(x), 2)));
    return torch::gelu(norm2->forward(conv2->forward(x)));
  }
};
TORCH_MODULE(ConvGroup);

struct Airbench94Impl : ClassifierImpl {
  nn::Conv2d whiten{nullptr};
  nn::Sequential groups{nullptr};
  nn::Linear head{nullptr};
  int64_t dim = 0;
  double head_scale = 1;
  Airbench94Impl(int64_t channels, int64_t num_classes, int64_t height, int64_t width, const Airbench94Config& config)
      : head_scale(config.head_scale) {
    int64_t h = height - config.whiten_kernel + 1, w = width - config.whiten_kernel + 1;
    for (size_t i = 0; i < config.widths.size(); ++i) h /= 2, w /= 2;
    if (h < 1 || w < 1)
      throw Error(fmt::format("arch airbench94: a {}x{} input is too small (its three 2x2 max-pools after the "
                              "{}x{} whitening conv need at least 9 px)",
                              height, width, config.whiten_kernel, config.whiten_kernel));
    const int64_t whiten_width = 2 * channels * config.whiten_kernel * config.whiten_kernel;
    whiten = register_module("whiten", nn::Conv2d(nn::Conv2dOptions(channels, whiten_width, config.whiten_kernel)
                                                      .padding(0)
                                                      .bias(true)));
    {
      torch::NoGradGuard no_grad;
      whiten->bias.zero_();
    }
    whiten->weight.requires_grad_(false);  // set from the data (whitening_filters), never trained
    groups = nn::Sequential();
    int64_t in = whiten_width;
    for (int64_t out : config.widths) {
      groups->push_back(ConvGroup(in, out, config));
      in = out;
    }
    register_module("groups", groups);
    dim = in;
    head = register_module("head", nn::Linear(nn::LinearOptions(dim, num_classes).bias(false)));
  }
  torch::Tensor feature_map(torch::Tensor x) override {
    return groups->forward(torch::gelu(whiten->forward(x)));
  }
  torch::Tensor features(torch::Tensor x) override { return pool(feature_map(x)); }
  torch::Tensor classify(torch::Tensor f) override { return head->forward(f) * head_scale; }
  torch::Tensor classify_map(torch::Tensor a) override { return classify(pool(a)); }
  int64_t feature_dim() const override { return dim; }
  torch::nn::Conv2dImpl* whitening_layer() override { return whiten.get(); }
  static torch::Tensor pool(const torch::Tensor& a) { return std::get<0>(a.flatten(2).max(2)); }  // N x K
};

}  // namespace

std::shared_ptr<ClassifierImpl> make_airbench94(int64_t channels, int64_t num_classes, int64_t height, int64_t width,
                                                const Airbench94Config& config) {
  return std::make_shared<Airbench94Impl>(channels, num_classes, height, width, config);
}

void dirac_first_filters(const torch::Tensor& weight) {
  DQ_ASSERT(weight.dim() == 4, "dirac_first_filters needs a convolution weight");
  torch::NoGradGuard no_grad;
  torch::nn::init::dirac_(weight.narrow(0, 0, std::min(weight.size(0), weight.size(1))));
}

torch::Tensor whitening_filters(const torch::Tensor& images, int64_t kernel, double eps) {
  DQ_ASSERT(images.dim() == 4, "whitening_filters needs N x C x H x W images");
  torch::NoGradGuard no_grad;
  const int64_t c = images.size(1);
  // N x C x H' x W' x k x k -> one row per patch, in the weight's (C, k, k) order.
  const torch::Tensor patches = images.to(torch::kFloat64)
                                    .unfold(2, kernel, 1)
                                    .unfold(3, kernel, 1)
                                    .permute({0, 2, 3, 1, 4, 5})
                                    .reshape({-1, c * kernel * kernel});
  const torch::Tensor covariance = patches.t().matmul(patches) / static_cast<double>(patches.size(0));
  auto [eigenvalues, eigenvectors] = torch::linalg::eigh(covariance, "U");  // ascending
  const torch::Tensor order = torch::arange(eigenvalues.size(0) - 1, -1, -1, torch::kLong);
  const torch::Tensor values = eigenvalues.index_select(0, order);
  const torch::Tensor vectors = eigenvectors.index_select(1, order).t();  // row i = i-th eigenvector
  const torch::Tensor scaled = (vectors / (values + eps).sqrt().unsqueeze(1)).reshape({-1, c, kernel, kernel});
  return torch::cat({scaled, -scaled}).to(torch::kFloat32).contiguous();
}

}  // namespace dq
