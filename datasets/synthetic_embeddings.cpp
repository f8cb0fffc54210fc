// Synthetic embedding-level dataset for scale experiments (the paper's Fakeddit row needs 200k+
// samples per class, which no image set on this machine has). Each class is a Gaussian mixture of
// tight clusters around a class centre, with a decaying per-dimension spectrum (as real CNN features
// have: a few strong directions, many weak ones) and a fraction of near-duplicates (copies of another
// sample of the class plus tiny noise; exact copies when duplicate_noise is 0). No images, no test split.
//
// Determinism: every row draws from its own stream derive_seed(seed, row), so the output is the same
// for any number of threads.
#include <fmt/format.h>

#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"
#include "datasets/dataset.h"

namespace dq {
namespace {

struct SyntheticSpec {
  int64_t classes, per_class, dim, clusters;
  double cluster_spread, class_spread, decay, duplicate_fraction, duplicate_noise;
  uint64_t seed;
};

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

Dataset generate(const SyntheticSpec& s) {
  // Per-dimension standard deviations: variance (j+1)^-decay, scaled to mean 1.
  std::vector<double> sd(static_cast<size_t>(s.dim));
  double total = 0;
  for (int64_t j = 0; j < s.dim; ++j) total += std::pow(static_cast<double>(j + 1), -s.decay);
  for (int64_t j = 0; j < s.dim; ++j)
    sd[static_cast<size_t>(j)] = std::sqrt(std::pow(static_cast<double>(j + 1), -s.decay) * static_cast<double>(s.dim) / total);

  const std::vector<float> zero(static_cast<size_t>(s.dim), 0.0f);
  std::vector<float> centres(static_cast<size_t>(s.classes * s.clusters * s.dim));
  for (int64_t c = 0; c < s.classes; ++c) {
    std::vector<float> class_centre(static_cast<size_t>(s.dim));
    Rng rng(derive_seed(derive_seed(s.seed, "class-centre"), static_cast<uint64_t>(c)));
    add_gaussian(rng, zero.data(), sd, s.class_spread, class_centre.data());
    for (int64_t k = 0; k < s.clusters; ++k)
      add_gaussian(rng, class_centre.data(), sd, 1.0, centres.data() + (c * s.clusters + k) * s.dim);
  }

  Dataset d;
  d.kind = "synthetic_embeddings";
  for (int64_t c = 0; c < s.classes; ++c) d.class_names.push_back(fmt::format("class_{}", c));
  const int64_t n = s.classes * s.per_class;
  d.train.n = n;
  d.train.labels.resize(static_cast<size_t>(n));
  d.feature_dim = s.dim;
  d.train_features.resize(static_cast<size_t>(n * s.dim));
  std::vector<char> is_copy(static_cast<size_t>(n), 0);
  const uint64_t row_base = derive_seed(s.seed, "rows");

  // Phase 1: cluster members, and which rows will be near-duplicates (never a class's first row).
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) {
    const int64_t c = r / s.per_class;
    d.train.labels[static_cast<size_t>(r)] = c;
    Rng rng(derive_seed(row_base, static_cast<uint64_t>(r)));
    is_copy[static_cast<size_t>(r)] = r % s.per_class != 0 && rng.uniform01() < s.duplicate_fraction;
    const int64_t k = static_cast<int64_t>(rng.uniform_below(static_cast<uint64_t>(s.clusters)));
    if (!is_copy[static_cast<size_t>(r)])
      add_gaussian(rng, centres.data() + (c * s.clusters + k) * s.dim, sd, s.cluster_spread, d.train_features.data() + r * s.dim);
  }
  // Phase 2: each near-duplicate copies the closest earlier original of its class, plus noise.
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) {
    if (!is_copy[static_cast<size_t>(r)]) continue;
    int64_t source = r - 1;
    while (is_copy[static_cast<size_t>(source)]) --source;
    Rng rng(derive_seed(derive_seed(row_base, "copy"), static_cast<uint64_t>(r)));
    float* out = d.train_features.data() + r * s.dim;
    const float* from = d.train_features.data() + source * s.dim;
    if (s.duplicate_noise > 0) add_gaussian(rng, from, sd, s.duplicate_noise * s.cluster_spread, out);
    else std::copy_n(from, s.dim, out);
  }
  d.load_report["near_duplicates"] = static_cast<double>(std::accumulate(is_copy.begin(), is_copy.end(), int64_t{0}));
  return d;
}

DatasetLoaderInfo make_synthetic_embeddings_info() {
  DatasetLoaderInfo info;
  info.kind = "synthetic_embeddings";
  info.description =
      "Class-conditional Gaussian mixture of tight clusters with near-duplicates, given directly as features "
      "(no images, no test split); deterministic for any thread count";
  info.params = {
      {"classes", ParamType::Int, int64_t{10}, "number of classes", {}, 1.0, 100000.0},
      {"per_class", ParamType::Int, int64_t{5000}, "samples per class", {}, 1.0, 10000000.0},
      {"dim", ParamType::Int, int64_t{512}, "feature dimension", {}, 1.0, 65536.0},
      {"clusters_per_class", ParamType::Int, int64_t{64}, "mixture components per class", {}, 1.0, 1000000.0},
      {"cluster_spread", ParamType::Double, 0.15, "within-cluster std relative to the spread of cluster centres", {}, 0.0, {}},
      {"class_spread", ParamType::Double, 1.0, "spread of class centres relative to the spread of cluster centres", {}, 0.0, {}},
      {"spectrum_decay", ParamType::Double, 1.0, "per-dimension variance falls as (j+1)^-decay (0: isotropic)", {}, 0.0, 10.0},
      {"near_duplicates", ParamType::Double, 0.05, "fraction of samples that copy another sample of their class", {}, 0.0, 1.0},
      {"duplicate_noise", ParamType::Double, 0.02, "noise on a copy relative to cluster_spread (0: exact copies)", {}, 0.0, {}},
      {"seed", ParamType::Int, int64_t{0}, "generator seed", {}, 0.0, {}},
  };
  info.load = [](const Params& p) {
    const SyntheticSpec s{p.get_int("classes"),
                          p.get_int("per_class"),
                          p.get_int("dim"),
                          p.get_int("clusters_per_class"),
                          p.get_double("cluster_spread"),
                          p.get_double("class_spread"),
                          p.get_double("spectrum_decay"),
                          p.get_double("near_duplicates"),
                          p.get_double("duplicate_noise"),
                          static_cast<uint64_t>(p.get_int("seed"))};
    Dataset d = generate(s);
    d.fingerprint = "synthetic_embeddings-v1|" + p.canonical();
    validate_dataset(d, "synthetic_embeddings");
    return d;
  };
  info.fingerprint = [](const Params& p) { return "synthetic_embeddings-v1|" + p.canonical(); };
  info.provides_images = false;
  return info;
}

}  // namespace
DQ_REGISTER_DATASET(make_synthetic_embeddings_info);
}  // namespace dq
