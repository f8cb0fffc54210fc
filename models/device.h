#pragma once
// The one home of "which torch::Device does this run on" for training, extraction, GradCAM++ and
// reconstruction. Include only from models/*.cpp and the LibTorch benchmarks (this header pulls in
// LibTorch).
#include <torch/types.h>

#include <string>

#include "models/models.h"

namespace dq {

// auto -> cuda:0 when the linked LibTorch sees a CUDA device, else CPU; cpu -> CPU; cuda:N -> that
// device, or dq::Error when it is not there (Debian's LibTorch is CPU-only). A CUDA device turns on
// cuDNN autotuning (benchmark mode: the fastest convolution algorithm per input shape, so GPU results
// are not bit-repeatable; README "GPU").
torch::Device to_torch_device(const DeviceSpec& device);
// The same from YAML text ("auto", "cpu", "cuda", "cuda:1"); unknown text is a dq::Error.
torch::Device resolve_device(const std::string& device);

// Number of CUDA devices the linked LibTorch sees (0 on a CPU-only build).
int64_t cuda_device_count();

}  // namespace dq
