#include "patching/patches.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/image_set.h"

namespace dq {

PatchGrid PatchGrid::for_image(int64_t height, int64_t width, int64_t patch_px, const std::string& where) {
  if (height <= 0 || width <= 0) throw Error(fmt::format("{}: images of {} x {} px cannot be cut into patches", where, height, width));
  const int64_t p = patch_px > 0 ? patch_px : (std::min(height, width) >= 112 ? 16 : 4);
  if (height % p != 0 || width % p != 0)
    throw Error(fmt::format("{}: patch size {} px does not tile {} x {} px images exactly (choose a divisor of both)",
                            where, p, height, width));
  return {height / p, width / p, p};
}

int64_t kept_patch_count(int64_t patches, double theta) {
  DQ_ASSERT(theta >= 0 && theta < 1, "patch drop ratio must be in [0, 1)");
  const auto keep = static_cast<int64_t>(std::floor(static_cast<double>(patches) * (1.0 - theta) + 1e-6));
  return std::clamp<int64_t>(keep, 0, patches);
}

std::vector<uint8_t> top_patch_mask(std::span<const float> scores, int64_t keep) {
  const auto n = static_cast<int64_t>(scores.size());
  DQ_ASSERT(keep >= 0 && keep <= n, "cannot keep more patches than there are");
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  auto key = [&](int64_t i) { return std::isnan(scores[i]) ? -INFINITY : scores[i]; };
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return key(a) > key(b); });
  std::vector<uint8_t> mask(static_cast<size_t>(n), 0);
  for (int64_t k = 0; k < keep; ++k) mask[static_cast<size_t>(order[k])] = 1;
  return mask;
}

std::vector<uint8_t> random_patch_mask(int64_t patches, int64_t keep, Rng& rng) {
  DQ_ASSERT(keep >= 0 && keep <= patches, "cannot keep more patches than there are");
  std::vector<int64_t> pool(static_cast<size_t>(patches));
  std::iota(pool.begin(), pool.end(), 0);
  std::vector<uint8_t> mask(static_cast<size_t>(patches), 0);
  for (int64_t k = 0; k < keep; ++k) {  // partial Fisher-Yates
    const auto j = k + static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(patches - k)));
    std::swap(pool[k], pool[j]);
    mask[static_cast<size_t>(pool[k])] = 1;
  }
  return mask;
}

void fill_dropped_patches(uint8_t* image, int64_t channels, int64_t height, int64_t width, const PatchGrid& grid,
                          std::span<const uint8_t> mask, std::span<const uint8_t> fill) {
  DQ_ASSERT(static_cast<int64_t>(mask.size()) == grid.count(), "mask size differs from the grid");
  DQ_ASSERT(static_cast<int64_t>(fill.size()) == channels, "one fill value per channel");
  DQ_ASSERT(grid.rows * grid.patch == height && grid.cols * grid.patch == width, "grid does not match the image");
  for (int64_t p = 0; p < grid.count(); ++p) {
    if (mask[static_cast<size_t>(p)]) continue;
    const int64_t y0 = (p / grid.cols) * grid.patch, x0 = (p % grid.cols) * grid.patch;
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = y0; y < y0 + grid.patch; ++y)
        std::fill_n(image + (c * height + y) * width + x0, grid.patch, fill[static_cast<size_t>(c)]);
  }
}

void copy_dropped_patches(uint8_t* dst, const uint8_t* src, int64_t channels, int64_t height, int64_t width,
                          const PatchGrid& grid, std::span<const uint8_t> mask) {
  DQ_ASSERT(static_cast<int64_t>(mask.size()) == grid.count(), "mask size differs from the grid");
  DQ_ASSERT(grid.rows * grid.patch == height && grid.cols * grid.patch == width, "grid does not match the image");
  for (int64_t p = 0; p < grid.count(); ++p) {
    if (mask[static_cast<size_t>(p)]) continue;
    const int64_t y0 = (p / grid.cols) * grid.patch, x0 = (p % grid.cols) * grid.patch;
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = y0; y < y0 + grid.patch; ++y) {
        const int64_t off = (c * height + y) * width + x0;
        std::copy_n(src + off, grid.patch, dst + off);
      }
  }
}

std::vector<uint8_t> pack_masks(std::span<const uint8_t> masks, int64_t patches) {
  DQ_ASSERT(patches > 0 && masks.size() % static_cast<size_t>(patches) == 0, "masks are n x patches bytes");
  const size_t n = masks.size() / static_cast<size_t>(patches), row = static_cast<size_t>((patches + 7) / 8);
  std::vector<uint8_t> out(n * row, 0);
  for (size_t i = 0; i < n; ++i)
    for (size_t p = 0; p < static_cast<size_t>(patches); ++p)
      if (masks[i * static_cast<size_t>(patches) + p]) out[i * row + p / 8] |= static_cast<uint8_t>(0x80u >> (p % 8));
  return out;
}

std::vector<uint8_t> unpack_masks(std::span<const uint8_t> packed, int64_t n, int64_t patches) {
  DQ_ASSERT(patches > 0 && n >= 0, "masks are n x patches");
  const size_t row = static_cast<size_t>((patches + 7) / 8);
  if (packed.size() != static_cast<size_t>(n) * row)
    throw Error(fmt::format("packed patch masks hold {} bytes; {} images of {} patches need {}", packed.size(), n,
                            patches, static_cast<size_t>(n) * row));
  std::vector<uint8_t> out(static_cast<size_t>(n * patches));
  for (size_t i = 0; i < static_cast<size_t>(n); ++i)
    for (size_t p = 0; p < static_cast<size_t>(patches); ++p)
      out[i * static_cast<size_t>(patches) + p] = (packed[i * row + p / 8] >> (7 - p % 8)) & 1u;
  return out;
}

std::vector<uint8_t> channel_mean_bytes(const ImageSet& images) {
  const int64_t hw = images.height * images.width;
  std::vector<uint8_t> out(static_cast<size_t>(images.channels), 0);
  for (int64_t c = 0; c < images.channels; ++c) {
    uint64_t sum = 0;
    for (int64_t i = 0; i < images.n; ++i) {
      const uint8_t* p = images.image(i) + c * hw;
      for (int64_t k = 0; k < hw; ++k) sum += p[k];
    }
    const double count = static_cast<double>(images.n * hw);
    out[static_cast<size_t>(c)] = count > 0 ? static_cast<uint8_t>(std::lround(static_cast<double>(sum) / count)) : 0;
  }
  return out;
}

}  // namespace dq
