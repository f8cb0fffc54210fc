#pragma once
// Synthetic embeddings for the DQ-family tests: Gaussian mixtures, duplicates, multi-class sets.
#include <algorithm>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "datasets/clustered_gaussian.h"
#include "datasets/dataset.h"
#include "methods/method.h"

namespace dq::test {

// m points in d dims around `clusters` centres drawn from N(0, 1) per dimension, each point its
// centre plus spread * N(0, 1) noise: the shared generator (datasets/clustered_gaussian.h), one class,
// isotropic, no copies.
inline std::vector<float> gaussian_mixture(int64_t m, int64_t d, int64_t clusters, double spread, uint64_t seed) {
  return generate_clustered_gaussian(
             {.per_class = m, .dim = d, .clusters_per_class = clusters, .cluster_spread = spread, .seed = seed})
      .features;
}

// Row `to` becomes an exact copy of row `from`, for each pair.
inline void make_duplicates(std::vector<float>& z, int64_t d, const std::vector<std::pair<int64_t, int64_t>>& pairs) {
  for (auto [from, to] : pairs)
    for (int64_t j = 0; j < d; ++j) z[static_cast<size_t>(to * d + j)] = z[static_cast<size_t>(from * d + j)];
}

// Several classes, each a contiguous block of rows; dataset ids interleave the classes
// (id = i * num_classes + c) so that positions and ids differ.
struct MultiClass {
  int64_t d = 0;
  std::vector<std::vector<float>> z;
  std::vector<std::vector<int64_t>> ids;
  std::vector<ClassView> views() const {
    std::vector<ClassView> out;
    for (size_t c = 0; c < z.size(); ++c) out.push_back({static_cast<int64_t>(c), ids[c], z[c].data(), d});
    return out;
  }
};

inline MultiClass multi_class(const std::vector<int64_t>& sizes, int64_t d, uint64_t seed, int64_t clusters = 6,
                              double spread = 0.3) {
  MultiClass mc;
  mc.d = d;
  const auto nc = static_cast<int64_t>(sizes.size());
  for (int64_t c = 0; c < nc; ++c) {
    mc.z.push_back(gaussian_mixture(sizes[static_cast<size_t>(c)], d, clusters, spread, derive_seed(seed, static_cast<uint64_t>(c))));
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < sizes[static_cast<size_t>(c)]; ++i) ids.push_back(i * nc + c);
    mc.ids.push_back(std::move(ids));
  }
  return mc;
}

// Grey 1 x 6 x 6 images indexed by dataset id (ADQ's texture level, SPD); `textured` ids get stripes two
// pixels wide (a one-pixel checkerboard would be invisible to Sobel), others a flat grey.
inline ImageSet textured_images(const MultiClass& data, const std::set<int64_t>& textured) {
  int64_t max_id = 0;
  for (const auto& ids : data.ids)
    for (int64_t id : ids) max_id = std::max(max_id, id);
  ImageSet set;
  set.n = max_id + 1, set.channels = 1, set.height = 6, set.width = 6;
  set.pixels.assign(static_cast<size_t>(set.n * 36), 100);
  set.labels.assign(static_cast<size_t>(set.n), 0);
  for (int64_t id : textured)
    for (int64_t p = 0; p < 36; ++p) set.pixels[static_cast<size_t>(id * 36 + p)] = ((p % 6) / 2 % 2) ? 255 : 0;
  return set;
}

}  // namespace dq::test
