#include "models/compute_mode.h"

#include <ATen/autocast_mode.h>

namespace dq {

AutocastGuard::AutocastGuard(const ComputeOptions& options, torch::Device device) {
  if (options.precision == Precision::Fp32) return;
  const at::ScalarType dtype = at::kBFloat16;  // Precision::Bf16
  active_ = true;
  cuda_ = device.is_cuda();
  if (cuda_) {
    was_enabled_ = at::autocast::is_enabled();
    previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    was_enabled_ = at::autocast::is_cpu_enabled();
    previous_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cuda_) {
    at::autocast::set_enabled(was_enabled_);
    at::autocast::set_autocast_gpu_dtype(previous_dtype_);
  } else {
    at::autocast::set_cpu_enabled(was_enabled_);
    at::autocast::set_autocast_cpu_dtype(previous_dtype_);
  }
}

torch::Tensor in_memory_format(const torch::Tensor& x, const ComputeOptions& options) {
  if (x.dim() != 4) return x;
  return x.contiguous(options.memory_format == MemoryFormat::ChannelsLast ? torch::MemoryFormat::ChannelsLast
                                                                          : torch::MemoryFormat::Contiguous);
}

void set_memory_format(torch::nn::Module& module, const ComputeOptions& options) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters())
    if (p.dim() == 4) p.set_data(in_memory_format(p, options));
}

}  // namespace dq
