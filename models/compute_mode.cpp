#include "models/compute_mode.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace dq {

namespace {

// Autocast's state per device kind. LibTorch 2.4 replaced the per-device functions (is_cpu_enabled,
// set_autocast_gpu_dtype, ...) by ones that take the device type and deprecated the old ones; Debian's
// LibTorch 1.13 has only the old ones. These four are the one place that knows both.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(at::DeviceType type) { return at::autocast::is_autocast_enabled(type); }
void set_autocast_enabled(at::DeviceType type, bool on) { at::autocast::set_autocast_enabled(type, on); }
at::ScalarType autocast_dtype(at::DeviceType type) { return at::autocast::get_autocast_dtype(type); }
void set_autocast_dtype(at::DeviceType type, at::ScalarType dtype) { at::autocast::set_autocast_dtype(type, dtype); }
#else
bool autocast_enabled(at::DeviceType type) {
  return type == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast_enabled(at::DeviceType type, bool on) {
  if (type == at::kCUDA) at::autocast::set_enabled(on);
  else at::autocast::set_cpu_enabled(on);
}
at::ScalarType autocast_dtype(at::DeviceType type) {
  return type == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast_dtype(at::DeviceType type, at::ScalarType dtype) {
  if (type == at::kCUDA) at::autocast::set_autocast_gpu_dtype(dtype);
  else at::autocast::set_autocast_cpu_dtype(dtype);
}
#endif

}  // namespace

AutocastGuard::AutocastGuard(const ComputeOptions& options, torch::Device device) {
  if (options.precision == Precision::Fp32) return;
  const at::ScalarType dtype = at::kBFloat16;  // Precision::Bf16
  active_ = true;
  type_ = device.is_cuda() ? at::kCUDA : at::kCPU;
  was_enabled_ = autocast_enabled(type_);
  previous_dtype_ = autocast_dtype(type_);
  set_autocast_enabled(type_, true);
  set_autocast_dtype(type_, dtype);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(type_, was_enabled_);
  set_autocast_dtype(type_, previous_dtype_);
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
