#include "models/device.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "core/error.h"

namespace dq {

int64_t cuda_device_count() { return torch::cuda::is_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0; }

namespace {

// The hook behind torch_build() (models/device_specs.cpp, LibTorch-free).
TorchBuild linked_torch_build() {
  TorchBuild b;
  b.version = TORCH_VERSION;
  // The CUDA hooks are the real ones only when libtorch_cuda is linked (the pip flavour); Debian's
  // CPU-only LibTorch answers with the defaults (no CUDA runtime).
  const at::CUDAHooksInterface& hooks = at::detail::getCUDAHooks();
  if (hooks.hasCUDART()) {
    const long v = hooks.versionCUDART();  // e.g. 13000
    b.cuda = fmt::format("{}.{}", v / 1000, (v % 1000) / 10);
  }
  b.cuda_devices = cuda_device_count();
  return b;
}

// Linking (or loading) dq_models makes the experiment parser (LibTorch-free) check `device: cuda` before
// any cell runs.
[[maybe_unused]] const bool hook_installed = [] {
  set_torch_build_hook(&linked_torch_build);
  return true;
}();
}  // namespace

torch::Device to_torch_device(const DeviceSpec& device) {
  switch (device.kind) {
    case DeviceSpec::Kind::Auto:
      return cuda_device_count() > 0 ? to_torch_device(parse_device("cuda", "device")) : torch::Device(torch::kCPU);
    case DeviceSpec::Kind::Cpu: return torch::Device(torch::kCPU);
    case DeviceSpec::Kind::Cuda:
      check_device_available(device, "device");
      at::globalContext().setBenchmarkCuDNN(true);  // cuDNN autotuning: the fastest algorithm per shape
      return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device.index));
  }
  DQ_ASSERT(false, "unhandled device kind");
  return torch::Device(torch::kCPU);
}

torch::Device resolve_device(const std::string& device) { return to_torch_device(parse_device(device, "device")); }

}  // namespace dq
