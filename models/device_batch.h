#pragma once
// Batches on their way to a network's device (README "GPU"): page-locked host memory and copies that
// do not wait on CUDA, pixels normalised on the device. On the CPU the same functions run with CPU
// tensors (the copies are no-ops), so CI tests the code path the GPU takes. Include only from
// models/*.cpp (pulls in LibTorch).
#include <torch/types.h>

#include <cstdint>

#include "datasets/dataset.h"
#include "models/networks.h"

namespace dq {

// Host memory for a batch bound for `device`: page-locked when `device` is CUDA (the copy can then
// run while the host goes on), ordinary memory otherwise.
torch::Tensor host_tensor(torch::IntArrayRef sizes, torch::ScalarType dtype, torch::Device device);

// `host` on `device` without waiting for the copy (non_blocking: from page-locked memory the host
// thread goes on at once and the copy is ordered before later work on the device); `host` itself when
// it is already there.
torch::Tensor to_device(const torch::Tensor& host, torch::Device device);

// A CPU tensor made in ordinary (pageable) memory, on `device`: staged through page-locked memory when
// `device` is CUDA (a copy from pageable memory would wait for every step queued before it); `cpu`
// itself on the CPU.
torch::Tensor staged_to_device(const torch::Tensor& cpu, torch::Device device);

// `count` class labels on `device`, through page-locked memory when it is CUDA: a copy from pageable
// memory would wait for the device to finish every step queued before it.
torch::Tensor labels_to_device(const int64_t* labels, int64_t count, torch::Device device);

// `count` contiguous uint8 images (C x H x W each) -> count x C x H x W float32 on `device`: the bytes
// travel (a quarter of the floats) and are normalised there as pixel * scale[c] + shift[c]
// (normalization_affine), so the result equals images_to_tensor's bit for bit.
torch::Tensor images_to_device(const uint8_t* pixels, int64_t count, int64_t c, int64_t h, int64_t w,
                               const Normalization& norm, torch::Device device);

// Images `ids[0..count)` of `images`, cropped and flipped as crops[k] says (CropFlip, drawn on the host),
// normalised, as count x C x H x W float32 on `device`: the host copies only the raw bytes and a
// count x 4 table of offsets, flips and padding modes; the crop (per-image offsets into the black or
// mirrored padding) and the flip are index gathers on the device. Equals gather_images(images, ids,
// count, norm, crops) bit for bit (tested on CPU tensors).
torch::Tensor augmented_images_to_device(const ImageSet& images, const int64_t* ids, int64_t count,
                                         const Normalization& norm, const CropFlip* crops, torch::Device device);

}  // namespace dq
