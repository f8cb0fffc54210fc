#pragma once
// Resizing interleaved 8-bit images to the loader's square `image_size`. All arithmetic is plain
// IEEE double (no FMA contraction under -std=c++20) with one rounding at the end, so the output is
// the same byte for byte wherever it runs.
#include <cstdint>
#include <string>

namespace dq {

enum class Interpolation {
  Nearest,   // the source pixel under each output pixel's centre
  Bilinear,  // half-pixel centres, edge clamped, no antialiasing (OpenCV INTER_LINEAR)
  Area,      // exact box filter: each output pixel averages the source area it covers, with
             // fractional weights at the borders (the right choice when shrinking)
};
Interpolation parse_interpolation(const std::string& name);  // "nearest" | "bilinear" | "area"

enum class ResizeMode {
  Crop,     // keep the aspect ratio: take the centred largest square, then scale it (torchvision's
            // Resize(s) + CenterCrop(s) without the double interpolation)
  Stretch,  // scale width and height independently to the square
};
ResizeMode parse_resize_mode(const std::string& name);  // "crop" | "stretch"

// A rectangle of a source image: `data` points at its top-left pixel; `stride` is the bytes per
// source row.
struct ImageRegion {
  const uint8_t* data;
  int64_t width, height, channels, stride;
};

// Resizes `src` to out_width x out_height (same channels) into `dst` (tightly packed).
void resize_region(const ImageRegion& src, uint8_t* dst, int64_t out_width, int64_t out_height, Interpolation how);

// Fits a whole width x height image into a size x size square as `mode` says.
void fit_square(const uint8_t* pixels, int64_t width, int64_t height, int64_t channels, uint8_t* dst, int64_t size,
                ResizeMode mode, Interpolation how);

}  // namespace dq
