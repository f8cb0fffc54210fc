#include "datasets/image_resize.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace dq {

Interpolation parse_interpolation(const std::string& name) {
  if (name == "nearest") return Interpolation::Nearest;
  if (name == "bilinear") return Interpolation::Bilinear;
  if (name == "area") return Interpolation::Area;
  throw Error(fmt::format("unknown interpolation '{}' (expected nearest|bilinear|area)", name));
}

ResizeMode parse_resize_mode(const std::string& name) {
  if (name == "crop") return ResizeMode::Crop;
  if (name == "stretch") return ResizeMode::Stretch;
  throw Error(fmt::format("unknown resize mode '{}' (expected crop|stretch)", name));
}

namespace {

uint8_t to_u8(double v) { return static_cast<uint8_t>(std::clamp(std::floor(v + 0.5), 0.0, 255.0)); }

void resize_nearest(const ImageRegion& s, uint8_t* dst, int64_t ow, int64_t oh) {
  std::vector<int64_t> sx(static_cast<size_t>(ow));
  for (int64_t x = 0; x < ow; ++x) sx[x] = std::min(((2 * x + 1) * s.width) / (2 * ow), s.width - 1);
  for (int64_t y = 0; y < oh; ++y) {
    const int64_t sy = std::min(((2 * y + 1) * s.height) / (2 * oh), s.height - 1);
    const uint8_t* row = s.data + sy * s.stride;
    for (int64_t x = 0; x < ow; ++x)
      std::memcpy(dst + (y * ow + x) * s.channels, row + sx[x] * s.channels, static_cast<size_t>(s.channels));
  }
}

struct LinearTap {
  int64_t i0, i1;
  double w1;  // weight of i1; i0 gets 1 - w1
};

std::vector<LinearTap> linear_taps(int64_t in, int64_t out) {
  std::vector<LinearTap> taps(static_cast<size_t>(out));
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    const double f = std::clamp((static_cast<double>(o) + 0.5) * scale - 0.5, 0.0, static_cast<double>(in - 1));
    const int64_t i0 = static_cast<int64_t>(std::floor(f));
    taps[o] = {i0, std::min(i0 + 1, in - 1), f - static_cast<double>(i0)};
  }
  return taps;
}

void resize_bilinear(const ImageRegion& s, uint8_t* dst, int64_t ow, int64_t oh) {
  const auto xt = linear_taps(s.width, ow), yt = linear_taps(s.height, oh);
  for (int64_t y = 0; y < oh; ++y) {
    const uint8_t* r0 = s.data + yt[y].i0 * s.stride;
    const uint8_t* r1 = s.data + yt[y].i1 * s.stride;
    const double b = yt[y].w1;
    for (int64_t x = 0; x < ow; ++x) {
      const double a = xt[x].w1;
      const int64_t c0 = xt[x].i0 * s.channels, c1 = xt[x].i1 * s.channels;
      for (int64_t c = 0; c < s.channels; ++c) {
        const double top = r0[c0 + c] * (1 - a) + r0[c1 + c] * a;
        const double bottom = r1[c0 + c] * (1 - a) + r1[c1 + c] * a;
        dst[(y * ow + x) * s.channels + c] = to_u8(top * (1 - b) + bottom * b);
      }
    }
  }
}

struct AreaTap {
  int64_t index;
  double weight;
};

// Output cell o covers [o * in, (o + 1) * in) and input cell i covers [i * out, (i + 1) * out), both
// in units of 1/out input pixels: overlaps are exact integers, weights exact ratios of them.
std::vector<std::vector<AreaTap>> area_taps(int64_t in, int64_t out) {
  std::vector<std::vector<AreaTap>> taps(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const int64_t lo = o * in, hi = (o + 1) * in;
    for (int64_t i = lo / out; i < in && i * out < hi; ++i) {
      const int64_t overlap = std::min(hi, (i + 1) * out) - std::max(lo, i * out);
      if (overlap > 0) taps[o].push_back({i, static_cast<double>(overlap) / static_cast<double>(in)});
    }
  }
  return taps;
}

void resize_area(const ImageRegion& s, uint8_t* dst, int64_t ow, int64_t oh) {
  const auto xt = area_taps(s.width, ow), yt = area_taps(s.height, oh);
  const int64_t c = s.channels;
  std::vector<double> rows(static_cast<size_t>(s.height * ow * c));  // horizontal pass
  for (int64_t y = 0; y < s.height; ++y) {
    const uint8_t* row = s.data + y * s.stride;
    for (int64_t x = 0; x < ow; ++x)
      for (int64_t k = 0; k < c; ++k) {
        double sum = 0;
        for (const auto& t : xt[x]) sum += t.weight * row[t.index * c + k];
        rows[(y * ow + x) * c + k] = sum;
      }
  }
  for (int64_t y = 0; y < oh; ++y)
    for (int64_t x = 0; x < ow; ++x)
      for (int64_t k = 0; k < c; ++k) {
        double sum = 0;
        for (const auto& t : yt[y]) sum += t.weight * rows[(t.index * ow + x) * c + k];
        dst[(y * ow + x) * c + k] = to_u8(sum);
      }
}

}  // namespace

void resize_region(const ImageRegion& src, uint8_t* dst, int64_t out_width, int64_t out_height, Interpolation how) {
  DQ_ASSERT(src.width > 0 && src.height > 0 && out_width > 0 && out_height > 0, "resize of an empty image");
  if (src.width == out_width && src.height == out_height) {
    for (int64_t y = 0; y < out_height; ++y)
      std::memcpy(dst + y * out_width * src.channels, src.data + y * src.stride,
                  static_cast<size_t>(out_width * src.channels));
    return;
  }
  switch (how) {
    case Interpolation::Nearest: resize_nearest(src, dst, out_width, out_height); return;
    case Interpolation::Bilinear: resize_bilinear(src, dst, out_width, out_height); return;
    case Interpolation::Area: resize_area(src, dst, out_width, out_height); return;
  }
}

void fit_square(const uint8_t* pixels, int64_t width, int64_t height, int64_t channels, uint8_t* dst, int64_t size,
                ResizeMode mode, Interpolation how) {
  ImageRegion region{pixels, width, height, channels, width * channels};
  if (mode == ResizeMode::Crop && width != height) {
    const int64_t side = std::min(width, height);
    region.data = pixels + ((height - side) / 2) * region.stride + ((width - side) / 2) * channels;
    region.width = region.height = side;
  }
  resize_region(region, dst, size, size, how);
}

}  // namespace dq
