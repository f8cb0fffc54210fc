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

// A standard normal (Box-Muller, one of the pair).
double normal(Rng& rng) {
  double u1 = rng.uniform01();
  while (u1 <= 0) u1 = rng.uniform01();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * rng.uniform01());
}

// The zoo's per-class manifold map: 64 random features of an m-dimensional parameter.
struct Manifold {
  static constexpr int64_t kFeatures = 64;
  int64_t m = 0;
  std::vector<double> w, b, a;  // kFeatures x m, kFeatures, dim x kFeatures
};

Manifold make_manifold(uint64_t seed, int64_t c, int64_t m, int64_t dim) {
  Rng rng(derive_seed(derive_seed(seed, "manifold"), static_cast<uint64_t>(c)));
  Manifold f;
  f.m = m;
  f.w.resize(static_cast<size_t>(Manifold::kFeatures * m));
  f.b.resize(static_cast<size_t>(Manifold::kFeatures));
  f.a.resize(static_cast<size_t>(dim * Manifold::kFeatures));
  for (double& v : f.w) v = normal(rng);
  for (double& v : f.b) v = 2.0 * M_PI * rng.uniform01();
  for (double& v : f.a) v = normal(rng) * std::sqrt(2.0 / Manifold::kFeatures);
  return f;
}

}  // namespace

ClusteredGaussian generate_clustered_gaussian(const ClusteredGaussianSpec& s) {
  DQ_ASSERT(s.classes >= 1 && s.per_class >= 1 && s.dim >= 1 && s.clusters_per_class >= 1,
            "clustered Gaussian sizes must be at least 1");
  DQ_ASSERT(s.cluster_size_power >= 0 && s.anisotropy >= 0 && s.student_t_dof >= 0 && s.manifold_dim >= 0,
            "zoo options are non-negative");
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

  // Zoo: power-law cluster weights (cumulative), per-cluster spreads, per-class manifolds.
  std::vector<double> cumulative;
  if (s.cluster_size_power > 0) {
    double total_w = 0;
    for (int64_t k = 0; k < clusters; ++k) cumulative.push_back(total_w += std::pow(static_cast<double>(k + 1), -s.cluster_size_power));
    for (double& v : cumulative) v /= total_w;
  }
  std::vector<std::vector<double>> cluster_sd;  // per (class, cluster): sd scaled per dimension
  if (s.anisotropy > 0) {
    for (int64_t ck = 0; ck < s.classes * clusters; ++ck) {
      Rng rng(derive_seed(derive_seed(s.seed, "anisotropy"), static_cast<uint64_t>(ck)));
      std::vector<double> scaled(sd);
      for (double& v : scaled) v *= std::exp(s.anisotropy * normal(rng));
      cluster_sd.push_back(std::move(scaled));
    }
  }
  std::vector<Manifold> manifolds;
  if (s.manifold_dim > 0)
    for (int64_t c = 0; c < s.classes; ++c) manifolds.push_back(make_manifold(s.seed, c, s.manifold_dim, s.dim));

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
    const int64_t k = cumulative.empty()
                          ? static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(clusters)))
                          : std::min<int64_t>(clusters - 1, std::lower_bound(cumulative.begin(), cumulative.end(), rng.uniform01()) -
                                                                cumulative.begin());
    if (is_copy[static_cast<size_t>(r)]) continue;
    float* row = out.features.data() + r * s.dim;
    if (s.manifold_dim > 0) {
      // On the class's manifold (its centre is the class centre), then the within-cluster noise.
      const Manifold& f = manifolds[static_cast<size_t>(c)];
      std::vector<double> t(static_cast<size_t>(f.m)), h(static_cast<size_t>(Manifold::kFeatures));
      for (double& v : t) v = normal(rng);
      for (int64_t l = 0; l < Manifold::kFeatures; ++l) {
        double arg = f.b[static_cast<size_t>(l)];
        for (int64_t q = 0; q < f.m; ++q) arg += f.w[static_cast<size_t>(l * f.m + q)] * t[static_cast<size_t>(q)];
        h[static_cast<size_t>(l)] = std::sin(arg);
      }
      std::vector<float> point(static_cast<size_t>(s.dim));
      const float* centre = centres.data() + c * clusters * s.dim;  // the class's first cluster centre
      for (int64_t j = 0; j < s.dim; ++j) {
        double v = 0;
        for (int64_t l = 0; l < Manifold::kFeatures; ++l) v += f.a[static_cast<size_t>(j * Manifold::kFeatures + l)] * h[static_cast<size_t>(l)];
        point[static_cast<size_t>(j)] = static_cast<float>(centre[j] + sd[static_cast<size_t>(j)] * v);
      }
      add_gaussian(rng, point.data(), sd, s.cluster_spread, row);
      continue;
    }
    const std::vector<double>& spread = cluster_sd.empty() ? sd : cluster_sd[static_cast<size_t>(c * clusters + k)];
    const float* centre = centres.data() + (c * clusters + k) * s.dim;
    add_gaussian(rng, centre, spread, s.cluster_spread, row);
    if (s.student_t_dof > 0) {
      // Multivariate t: the Gaussian offset scaled by sqrt(v / chi2_v).
      double chi2 = 0;
      for (int64_t q = 0; q < s.student_t_dof; ++q) {
        const double e = normal(rng);
        chi2 += e * e;
      }
      const double scale = std::sqrt(static_cast<double>(s.student_t_dof) / std::max(chi2, 1e-300));
      for (int64_t j = 0; j < s.dim; ++j) row[j] = static_cast<float>(centre[j] + scale * (row[j] - centre[j]));
    }
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
