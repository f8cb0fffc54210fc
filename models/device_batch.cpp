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

torch::Tensor staged_to_device(const torch::Tensor& cpu, torch::Device device) {
  if (!device.is_cuda()) return cpu.to(device);
  torch::Tensor host = host_tensor(cpu.sizes(), cpu.scalar_type(), device);
  host.copy_(cpu);
  return to_device(host, device);
}

torch::Tensor labels_to_device(const int64_t* labels, int64_t count, torch::Device device) {
  torch::Tensor host = host_tensor({count}, torch::kInt64, device);
  std::memcpy(host.data_ptr<int64_t>(), labels, static_cast<size_t>(count) * sizeof(int64_t));
  return to_device(host, device);
}

namespace {

// uint8 images already on `device` (count x C x H x W) -> float32 normalised there.
torch::Tensor normalise_on_device(const torch::Tensor& bytes, const Normalization& norm, torch::Device device) {
  const int64_t c = bytes.size(1);
  std::vector<float> scale, shift;
  normalization_affine(norm, c, scale, shift);
  const auto per_channel = [&](const std::vector<float>& v) {  // page-locked too: a pageable copy would wait
    torch::Tensor t = host_tensor({1, c, 1, 1}, torch::kFloat32, device);
    std::memcpy(t.data_ptr<float>(), v.data(), v.size() * sizeof(float));
    return to_device(t, device);
  };
  // Two roundings, as normalise_crop_flip's a * x + b (no fused multiply-add on either side).
  return bytes.to(torch::kFloat32).mul(per_channel(scale)).add(per_channel(shift));
}

// Source indices `i` (any integers) along an axis of length n mirrored into [0, n) about the edge
// pixels, without repeating them (reflect padding: -1 -> 1, as networks.cpp's reflect_index).
torch::Tensor reflected(const torch::Tensor& i, int64_t n) {
  if (n == 1) return torch::zeros_like(i);
  const int64_t period = 2 * (n - 1);
  const torch::Tensor m = i.remainder(period);  // in [0, period): the sign of the divisor
  return torch::where(m < n, m, period - m);
}

}  // namespace

torch::Tensor images_to_device(const uint8_t* pixels, int64_t count, int64_t c, int64_t h, int64_t w,
                               const Normalization& norm, torch::Device device) {
  torch::Tensor bytes = host_tensor({count, c, h, w}, torch::kUInt8, device);
  std::memcpy(bytes.data_ptr<uint8_t>(), pixels, static_cast<size_t>(count * c * h * w));
  return normalise_on_device(to_device(bytes, device), norm, device);
}

torch::Tensor augmented_images_to_device(const ImageSet& images, const int64_t* ids, int64_t count,
                                         const Normalization& norm, const CropFlip* crops, torch::Device device) {
  const int64_t c = images.channels, h = images.height, w = images.width, bytes_each = images.image_bytes();
  torch::Tensor host = host_tensor({count, c, h, w}, torch::kUInt8, device);
  for (int64_t k = 0; k < count; ++k)
    std::memcpy(host.data_ptr<uint8_t>() + k * bytes_each, images.image(ids[k]), static_cast<size_t>(bytes_each));
  torch::Tensor bytes = to_device(host, device);
  if (crops) {
    // Per image: the offset of its first row and column in the unpadded image, its flip, its padding mode.
    torch::Tensor table = host_tensor({count, 4}, torch::kInt64, device);
    int64_t* t = table.data_ptr<int64_t>();
    for (int64_t k = 0; k < count; ++k) {
      const CropFlip& cf = crops[k];
      t[4 * k] = cf.dy - cf.pad;
      t[4 * k + 1] = cf.dx - cf.pad;
      t[4 * k + 2] = cf.flip ? 1 : 0;
      t[4 * k + 3] = cf.reflect ? 1 : 0;
    }
    table = to_device(table, device);
    const auto index = torch::TensorOptions().dtype(torch::kInt64).device(device);
    const torch::Tensor flip = table.select(1, 2).view({count, 1}).ne(0);
    const torch::Tensor reflect = table.select(1, 3).ne(0);
    const torch::Tensor xs = torch::arange(w, index).view({1, w});
    // Output (y, x) reads source (y + oy, x' + ox), x' = w - 1 - x when flipped (normalise_crop_flip).
    const torch::Tensor sy = torch::arange(h, index).view({1, h}) + table.select(1, 0).view({count, 1});
    const torch::Tensor sx = torch::where(flip, (w - 1) - xs, xs) + table.select(1, 1).view({count, 1});
    const auto source = [&](const torch::Tensor& s, int64_t n) {
      return torch::where(reflect.view({count, 1}), reflected(s, n), s.clamp(0, n - 1));
    };
    const auto inside = [&](const torch::Tensor& s, int64_t n) {
      return reflect.view({count, 1}).logical_or(s.ge(0).logical_and(s.lt(n)));
    };
    bytes = bytes.gather(2, source(sy, h).view({count, 1, h, 1}).expand({count, c, h, w}))
                .gather(3, source(sx, w).view({count, 1, 1, w}).expand({count, c, h, w}));
    // Constant padding is black: pixel 0, normalised to the shift as on the host.
    const torch::Tensor valid = inside(sy, h).view({count, 1, h, 1}).logical_and(inside(sx, w).view({count, 1, 1, w}));
    bytes = bytes.masked_fill(valid.logical_not(), 0);
  }
  return normalise_on_device(bytes, norm, device);
}

}  // namespace dq
