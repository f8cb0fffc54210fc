// Clustered Gaussian embeddings (datasets/clustered_gaussian.h). The draws are in a fixed order per
// stream; changing any of them changes the synthetic_embeddings bytes, which a test pins.
#include "datasets/clustered_gaussian.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"

namespace dq {
namespace {

// out[j] = base[j] + scale * sd[j] * N(0,1), two normals per Box-Muller step.
void add_gaussian(Rng& rng, const float* base, const std::vector<double>& sd, double scale, float* out) {
  const size_t n = sd.size();
  for (size_t j = 0; j < n; j += 2) {
    double u1 = rng.uniform01();
    while (u1 <= 0) u1 = rng.uniform01();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * M_PI * rng.uniform01();
    out[j] = static_cast<float>(base[j] + scale * sd[j] * r * std::cos(angle));
    if (j + 1 < n) out[j + 1] = static_cast<float>(base[j + 1] + scale * sd[j + 1] * r * std::sin(angle));
  }
}

}  // namespace

ClusteredGaussian generate_clustered_gaussian(const ClusteredGaussianSpec& s) {
  DQ_ASSERT(s.classes >= 1 && s.per_class >= 1 && s.dim >= 1 && s.clusters_per_class >= 1,
            "clustered Gaussian sizes must be at least 1");
  // Per-dimension standard deviations: variance (j+1)^-decay, scaled to mean 1.
  std::vector<double> sd(static_cast<size_t>(s.dim));
  double total = 0;
  for (int64_t j = 0; j < s.dim; ++j) total += std::pow(static_cast<double>(j + 1), -s.spectrum_decay);
  for (int64_t j = 0; j < s.dim; ++j)
    sd[static_cast<size_t>(j)] =
        std::sqrt(std::pow(static_cast<double>(j + 1), -s.spectrum_decay) * static_cast<double>(s.dim) / total);

  const int64_t clusters = s.clusters_per_class;
  const std::vector<float> zero(static_cast<size_t>(s.dim), 0.0f);
  std::vector<float> centres(static_cast<size_t>(s.classes * clusters * s.dim));
  for (int64_t c = 0; c < s.classes; ++c) {
    std::vector<float> class_centre(static_cast<size_t>(s.dim));
    Rng rng(derive_seed(derive_seed(s.seed, "class-centre"), static_cast<uint64_t>(c)));
    add_gaussian(rng, zero.data(), sd, s.class_spread, class_centre.data());
    for (int64_t k = 0; k < clusters; ++k)
      add_gaussian(rng, class_centre.data(), sd, 1.0, centres.data() + (c * clusters + k) * s.dim);
  }

  ClusteredGaussian out;
  const int64_t n = s.classes * s.per_class;
  out.labels.resize(static_cast<size_t>(n));
  out.features.resize(static_cast<size_t>(n * s.dim));
  std::vector<char> is_copy(static_cast<size_t>(n), 0);
  const uint64_t row_base = derive_seed(s.seed, "rows");

  // Phase 1: cluster members, and which rows will be near-duplicates (never a class's first row).
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) {
    const int64_t c = r / s.per_class;
    out.labels[static_cast<size_t>(r)] = c;
    Rng rng(derive_seed(row_base, static_cast<uint64_t>(r)));
    is_copy[static_cast<size_t>(r)] = r % s.per_class != 0 && rng.uniform01() < s.near_duplicates;
    const int64_t k = static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(clusters)));
    if (!is_copy[static_cast<size_t>(r)])
      add_gaussian(rng, centres.data() + (c * clusters + k) * s.dim, sd, s.cluster_spread, out.features.data() + r * s.dim);
  }
  // Phase 2: each near-duplicate copies the closest earlier original of its class, plus noise.
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) {
    if (!is_copy[static_cast<size_t>(r)]) continue;
    int64_t source = r - 1;
    while (is_copy[static_cast<size_t>(source)]) --source;
    Rng rng(derive_seed(derive_seed(row_base, "copy"), static_cast<uint64_t>(r)));
    float* to = out.features.data() + r * s.dim;
    const float* from = out.features.data() + source * s.dim;
    if (s.duplicate_noise > 0) add_gaussian(rng, from, sd, s.duplicate_noise * s.cluster_spread, to);
    else std::copy_n(from, s.dim, to);
  }
  out.near_duplicates = std::accumulate(is_copy.begin(), is_copy.end(), int64_t{0});
  return out;
}

}  // namespace dq
