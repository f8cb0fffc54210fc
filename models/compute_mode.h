#pragma once
// The one home of a recipe's precision and memory format (models.h ComputeOptions) as LibTorch
// settings, for training, evaluation and benchmarks, on every device: the CPU (bf16 autocast, oneDNN's
// channels-last kernels) and CUDA (its autocast and layouts). Include only from models/*.cpp and the
// LibTorch benchmarks (pulls in LibTorch).
#include <torch/torch.h>

#include "models/models.h"

namespace dq {

// Autocast for the scope of the guard, on `device`'s kind, when `options.precision` asks for a lower
// precision (bf16); otherwise nothing. Restores the previous state (and clears autocast's weight-cast
// cache at the outermost guard) when it ends. Run the forward pass inside, the loss outside.
class AutocastGuard {
 public:
  AutocastGuard(const ComputeOptions& options, torch::Device device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false, was_enabled_ = false;
  at::DeviceType type_ = at::kCPU;
  at::ScalarType previous_dtype_ = at::kFloat;
};

// `x` (4-D) in the recipe's layout: channels-last (NHWC strides) or contiguous NCHW.
torch::Tensor in_memory_format(const torch::Tensor& x, const ComputeOptions& options);
// Puts every 4-D parameter of `module` (convolution weights) in the recipe's layout, in place.
void set_memory_format(torch::nn::Module& module, const ComputeOptions& options);

}  // namespace dq
