#include "models/device_batch.h"

#include <torch/torch.h>

#include <cstring>

namespace dq {

torch::Tensor host_tensor(torch::IntArrayRef sizes, torch::ScalarType dtype, torch::Device device) {
  return torch::empty(sizes, torch::TensorOptions().dtype(dtype).pinned_memory(device.is_cuda()));
}

torch::Tensor to_device(const torch::Tensor& host, torch::Device device) {
  return host.to(device, /*non_blocking=*/true);
}

torch::Tensor labels_to_device(const int64_t* labels, int64_t count, torch::Device device) {
  torch::Tensor host = host_tensor({count}, torch::kInt64, device);
  std::memcpy(host.data_ptr<int64_t>(), labels, static_cast<size_t>(count) * sizeof(int64_t));
  return to_device(host, device);
}

torch::Tensor images_to_device(const uint8_t* pixels, int64_t count, int64_t c, int64_t h, int64_t w,
                               const Normalization& norm, torch::Device device) {
  torch::Tensor bytes = host_tensor({count, c, h, w}, torch::kUInt8, device);
  std::memcpy(bytes.data_ptr<uint8_t>(), pixels, static_cast<size_t>(count * c * h * w));
  std::vector<float> scale, shift;
  normalization_affine(norm, c, scale, shift);
  const auto per_channel = [&](const std::vector<float>& v) {  // page-locked too: a pageable copy would wait
    torch::Tensor t = host_tensor({1, c, 1, 1}, torch::kFloat32, device);
    std::memcpy(t.data_ptr<float>(), v.data(), v.size() * sizeof(float));
    return to_device(t, device);
  };
  // Two roundings, as normalise_crop_flip's a * x + b (no fused multiply-add on either side).
  return to_device(bytes, device).to(torch::kFloat32).mul(per_channel(scale)).add(per_channel(shift));
}

}  // namespace dq
