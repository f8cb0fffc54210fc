#pragma once
// Batches on their way to a network's device (README "GPU"): page-locked host memory and copies that
// do not wait on CUDA, pixels normalised on the device. On the CPU the same functions run with CPU
// tensors (the copies are no-ops), so CI tests the code path the GPU takes. Include only from
// models/*.cpp (pulls in LibTorch).
#include <torch/types.h>

#include <cstdint>

#include "models/networks.h"

namespace dq {

// Host memory for a batch bound for `device`: page-locked when `device` is CUDA (the copy can then
// run while the host goes on), ordinary memory otherwise.
torch::Tensor host_tensor(torch::IntArrayRef sizes, torch::ScalarType dtype, torch::Device device);

// `host` on `device` without waiting for the copy (non_blocking: from page-locked memory the host
// thread goes on at once and the copy is ordered before later work on the device); `host` itself when
// it is already there.
torch::Tensor to_device(const torch::Tensor& host, torch::Device device);

// `count` class labels on `device`, through page-locked memory when it is CUDA: a copy from pageable
// memory would wait for the device to finish every step queued before it.
torch::Tensor labels_to_device(const int64_t* labels, int64_t count, torch::Device device);

// `count` contiguous uint8 images (C x H x W each) -> count x C x H x W float32 on `device`: the bytes
// travel (a quarter of the floats) and are normalised there as pixel * scale[c] + shift[c]
// (normalization_affine), so the result equals images_to_tensor's bit for bit.
torch::Tensor images_to_device(const uint8_t* pixels, int64_t count, int64_t c, int64_t h, int64_t w,
                               const Normalization& norm, torch::Device device);

}  // namespace dq
