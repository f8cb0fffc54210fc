#pragma once
// Decoded images as values: n uint8 images of C x H x W (row-major, images contiguous) with their int64
// labels. What a loader fills for each split (datasets/dataset.h), what ADQ and external methods read
// (methods/), what the patch stage cuts and reconstructs and what training consumes (models/).
#include <cstdint>
#include <vector>

namespace dq {

struct ImageSet {
  int64_t n = 0, channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;  // n * channels * height * width
  std::vector<int64_t> labels;  // n, each in [0, num_classes)

  int64_t image_bytes() const { return channels * height * width; }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }
  // Copies the listed images (in that order) into a new set.
  ImageSet subset(const std::vector<int64_t>& ids) const;
};

}  // namespace dq
