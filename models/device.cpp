#include "models/device.h"

#include <torch/cuda.h>

#include "core/error.h"

namespace dq {

int64_t cuda_device_count() { return torch::cuda::is_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0; }

namespace {
// Linking dq_models makes the experiment parser (LibTorch-free) check `device: cuda` before any cell runs.
[[maybe_unused]] const bool hook_installed = [] {
  set_cuda_device_count_hook(&cuda_device_count);
  return true;
}();
}  // namespace

torch::Device to_torch_device(const DeviceSpec& device) {
  switch (device.kind) {
    case DeviceSpec::Kind::Auto:
      return cuda_device_count() > 0 ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
    case DeviceSpec::Kind::Cpu: return torch::Device(torch::kCPU);
    case DeviceSpec::Kind::Cuda:
      check_device_available(device, "device");
      return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device.index));
  }
  DQ_ASSERT(false, "unhandled device kind");
  return torch::Device(torch::kCPU);
}

torch::Device resolve_device(const std::string& device) { return to_torch_device(parse_device(device, "device")); }

}  // namespace dq
