#pragma once
// Patch quantization, the pixel half of dataset quantization (DQ paper; methods-spec 2.3): an image
// is cut into a grid of square patches, the lowest-ranked patches are dropped (only the kept ones are
// stored), and the dropped ones are filled in again before training. This file holds the torch-free
// parts: the grid, the masks and the mean-fill reconstruction. GradCAM++ scores and the MAE live in
// models/; the stage that ties them together is patching/patch_stage.h.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/rng.h"

namespace dq {

struct ImageSet;

// A rows x cols grid of patch x patch pixel squares covering an H x W image exactly. Patches are
// numbered row-major (the ViT token order DQ's code uses).
struct PatchGrid {
  int64_t rows = 0, cols = 0;
  int64_t patch = 0;  // side in pixels
  int64_t count() const { return rows * cols; }

  // patch_px = 0 picks the default: 16 px for images of at least 112 px a side (224 -> 14 x 14), else
  // 4 px (32 -> 8 x 8, 28 -> 7 x 7). Throws dq::Error naming `where` if the patch does not tile the
  // image exactly.
  static PatchGrid for_image(int64_t height, int64_t width, int64_t patch_px, const std::string& where);
};

// Patches kept at drop ratio theta in [0, 1): floor(P * (1 - theta)) (spec 2.3: 196 patches at
// theta = 0.25 keep 147). A tolerance of 1e-6 patch absorbs float keep fractions such as 0.9f.
int64_t kept_patch_count(int64_t patches, double theta);

// Mask (1 = kept, 0 = dropped, one byte per patch) keeping the `keep` highest-scoring patches; equal
// scores go to the lower patch index. NaN scores rank lowest.
std::vector<uint8_t> top_patch_mask(std::span<const float> scores, int64_t keep);

// Mask keeping `keep` patches drawn uniformly without replacement (the DQ paper's random-drop ablation).
std::vector<uint8_t> random_patch_mask(int64_t patches, int64_t keep, Rng& rng);

// Overwrites every pixel of the dropped patches of one C x H x W uint8 image with fill[c]; kept pixels
// are not touched (bit-identical).
void fill_dropped_patches(uint8_t* image, int64_t channels, int64_t height, int64_t width, const PatchGrid& grid,
                          std::span<const uint8_t> mask, std::span<const uint8_t> fill);

// Copies the dropped patches of one C x H x W uint8 image from `src` into `dst` (a reconstruction's
// predictions); the kept pixels of `dst` are not touched.
void copy_dropped_patches(uint8_t* dst, const uint8_t* src, int64_t channels, int64_t height, int64_t width,
                          const PatchGrid& grid, std::span<const uint8_t> mask);

// Masks of n images packed to bits as numpy's np.packbits(masks, axis=1) lays them out: each image's
// P mask bytes (1 = kept) become ceil(P / 8) bytes, patch 0 in the highest bit of the first byte, the
// last byte zero-padded. How the store keeps the masks a cell applied (harness/README.md, patch_masks).
std::vector<uint8_t> pack_masks(std::span<const uint8_t> masks, int64_t patches);
// The inverse: n x P bytes of 0/1. Throws dq::Error when `packed` is not n x ceil(P / 8) bytes.
std::vector<uint8_t> unpack_masks(std::span<const uint8_t> packed, int64_t n, int64_t patches);

// Per-channel mean of a uint8 image set, rounded to the nearest byte: the `mean` reconstruction fill.
std::vector<uint8_t> channel_mean_bytes(const ImageSet& images);

}  // namespace dq
