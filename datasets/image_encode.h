#pragma once
// Encoding 8-bit images to PNG (libpng) and JPEG (libjpeg-turbo): used to write test fixtures and to
// dump images for inspection. Pixels are row-major, interleaved.
#include <cstdint>
#include <vector>

namespace dq {

// channels: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA. Lossless.
std::vector<uint8_t> encode_png(const uint8_t* pixels, int64_t width, int64_t height, int channels);

// channels: 1 grey, 3 RGB, 4 CMYK (libjpeg stores it as YCCK with an Adobe marker, so the values
// are read back as written; pass them in Adobe's inverted convention, 255 = no ink).
std::vector<uint8_t> encode_jpeg(const uint8_t* pixels, int64_t width, int64_t height, int channels, int quality);

}  // namespace dq
