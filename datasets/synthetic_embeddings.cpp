// Synthetic embedding-level dataset kind for scale experiments (the paper's Fakeddit row needs 200k+
// samples per class, which no image set on this machine has): features drawn by the shared
// clustered-Gaussian generator (datasets/clustered_gaussian.h, which says the model and the
// determinism), no images, no test split.
#include <fmt/format.h>

#include <utility>

#include "core/param_table.h"
#include "datasets/clustered_gaussian.h"
#include "datasets/dataset.h"

namespace dq {
namespace {

ClusteredGaussianSpec synthetic_embeddings_defaults() {
  return {.classes = 10, .per_class = 5000, .dim = 512, .clusters_per_class = 64, .cluster_spread = 0.15,
          .class_spread = 1.0, .spectrum_decay = 1.0, .near_duplicates = 0.05, .duplicate_noise = 0.02, .seed = 0};
}

Dataset generate(const ClusteredGaussianSpec& spec) {
  ClusteredGaussian generated = generate_clustered_gaussian(spec);
  Dataset d;
  d.kind = "synthetic_embeddings";
  for (int64_t c = 0; c < spec.classes; ++c) d.class_names.push_back(fmt::format("class_{}", c));
  d.train.n = spec.classes * spec.per_class;
  d.train.labels = std::move(generated.labels);
  d.feature_dim = spec.dim;
  d.train_features = std::move(generated.features);
  d.load_report["near_duplicates"] = static_cast<double>(generated.near_duplicates);
  return d;
}

// The kind's options are the generator's spec, one row per member (the seed given as a
// non-negative int).
const ParamTable<ClusteredGaussianSpec>& synthetic_embeddings_table() {
  using S = ClusteredGaussianSpec;
  const ParamCodec<uint64_t, int64_t> seed_codec{[](const uint64_t& v) { return static_cast<int64_t>(v); },
                                                 [](const int64_t& v) { return static_cast<uint64_t>(v); }};
  static const ParamTable<ClusteredGaussianSpec> table{{
      field({.name = "classes", .help = "number of classes", .min = 1, .max = 100000}, &S::classes),
      field({.name = "per_class", .help = "samples per class", .min = 1, .max = 10000000}, &S::per_class),
      field({.name = "dim", .help = "feature dimension", .min = 1, .max = 65536}, &S::dim),
      field({.name = "clusters_per_class", .help = "mixture components per class", .min = 1, .max = 1000000},
            &S::clusters_per_class),
      field({.name = "cluster_spread", .help = "within-cluster std relative to the spread of cluster centres", .min = 0},
            &S::cluster_spread),
      field({.name = "class_spread", .help = "spread of class centres relative to the spread of cluster centres",
             .min = 0},
            &S::class_spread),
      field({.name = "spectrum_decay", .help = "per-dimension variance falls as (j+1)^-decay (0: isotropic)", .min = 0,
             .max = 10},
            &S::spectrum_decay),
      field({.name = "near_duplicates", .help = "fraction of samples that copy another sample of their class", .min = 0,
             .max = 1},
            &S::near_duplicates),
      field({.name = "duplicate_noise", .help = "noise on a copy relative to cluster_spread (0: exact copies)", .min = 0},
            &S::duplicate_noise),
      field({.name = "seed", .help = "generator seed", .min = 0}, seed_codec, &S::seed),
      // The zoo's keys (added later: left out of identity at their defaults).
      field({.name = "cluster_size_power", .help = "power-law cluster sizes: weight (k+1)^-power (0: uniform)", .min = 0,
             .max = 10, .omit_at_default = true},
            &S::cluster_size_power),
      field({.name = "anisotropy",
             .help = "per-cluster spread per dimension times exp(anisotropy * N(0,1)) (0: round)", .min = 0, .max = 10,
             .omit_at_default = true},
            &S::anisotropy),
      field({.name = "student_t_dof",
             .help = "Student-t within-cluster noise with these degrees of freedom (0: Gaussian)", .min = 0, .max = 1000,
             .omit_at_default = true},
            &S::student_t_dof),
      field({.name = "manifold_dim",
             .help = "rows on a smooth manifold of this dimension per class instead of clusters (0: clusters)", .min = 0,
             .max = 64, .omit_at_default = true},
            &S::manifold_dim),
  }, {}, synthetic_embeddings_defaults()};
  return table;
}

DatasetLoaderInfo make_synthetic_embeddings_info() {
  DatasetLoaderInfo info;
  info.kind = "synthetic_embeddings";
  info.description =
      "Class-conditional Gaussian mixture of tight clusters with near-duplicates, given directly as features "
      "(no images, no test split); deterministic for any thread count";
  info.params = synthetic_embeddings_table().specs();
  info.load = [](const Params& p) {
    Dataset d = generate(synthetic_embeddings_table().parse(p));
    d.fingerprint = "synthetic_embeddings|" + p.canonical();
    validate_dataset(d, "synthetic_embeddings");
    return d;
  };
  info.fingerprint = [](const Params& p) { return "synthetic_embeddings|" + p.canonical(); };
  info.provides_images = false;
  info.sizes = [](const Params& p) -> std::optional<DatasetSizes> {
    const ClusteredGaussianSpec o = synthetic_embeddings_table().parse(p);
    return DatasetSizes{.train = o.classes * o.per_class, .largest_class = o.per_class, .dim = o.dim};
  };
  return info;
}

}  // namespace
DQ_REGISTER_DATASET(make_synthetic_embeddings_info);
}  // namespace dq
