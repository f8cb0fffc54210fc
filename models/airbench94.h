#pragma once
// The airbench94 network of Keller Jordan's published CIFAR-10 recipe ("94% on CIFAR-10 in 3.29
// seconds on a single GPU", 2024; repository KellerJordan/cifar10-airbench), written here in LibTorch
// from its published description (models/README.md). Include only from models/*.cpp and the LibTorch
// tests and benchmarks (pulls in LibTorch).
#include <torch/torch.h>

#include "models/networks.h"

namespace dq {

// The network's own constants (its definition, as widths are ResNet-18's); the training constants
// are the `airbench94` recipe preset's.
struct Airbench94Config {
  int64_t whiten_kernel = 2;                  // whitening conv: k x k, no padding, 2 C k^2 filters (+ bias)
  std::vector<int64_t> widths = {64, 256, 256};  // the three conv groups
  double bn_eps = 1e-12;
  double bn_momentum = 0.4;                   // running-statistics momentum, PyTorch's convention (1 - 0.6)
  double head_scale = 1.0 / 9.0;              // the linear head's output multiplier
};

// Whitening conv -> GELU -> 3 conv groups (conv 3x3 -> max-pool 2 -> BatchNorm -> GELU -> conv 3x3 ->
// BatchNorm -> GELU) -> global max-pool (the published 3x3 max-pool at 32 px) -> linear without bias
// x head_scale. Convolutions have no bias and start as the identity on their first input channels
// (dirac_first_filters); BatchNorm scales are fixed at 1 (not trained), biases trained. The embedding
// is the pooled 256-d vector before the head; GradCAM++ uses the last group's output (3 x 3 at 32 px).
// Any channels and classes; height and width at least 9 px (dq::Error otherwise).
std::shared_ptr<ClassifierImpl> make_airbench94(int64_t channels, int64_t num_classes, int64_t height, int64_t width,
                                                const Airbench94Config& config = {});

// Sets the first min(out, in) output filters of a convolution weight (out x in x kh x kw) to the
// identity: filter i passes input channel i through its centre tap, so a fresh convolution starts as
// an implicit residual on those channels. The other filters keep their values.
void dirac_first_filters(const torch::Tensor& weight);

// Whitening filters for a k x k convolution from normalised images (N x C x H x W float): the
// uncentred covariance of all k x k x C patches (stride 1, no padding), computed in float64; its
// eigenvectors in order of decreasing eigenvalue, each scaled by 1 / sqrt(eigenvalue + eps), then the
// same filters negated: 2 C k^2 x C x k x k float32. Applied to such patches, the first C k^2 outputs
// have covariance diag(lambda / (lambda + eps)), the identity up to eps.
torch::Tensor whitening_filters(const torch::Tensor& images, int64_t kernel, double eps);

}  // namespace dq
