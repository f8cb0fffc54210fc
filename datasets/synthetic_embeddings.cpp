// Synthetic embedding-level dataset kind for scale experiments (the paper's Fakeddit row needs 200k+
// samples per class, which no image set on this machine has): features drawn by the shared
// clustered-Gaussian generator (datasets/clustered_gaussian.h, which says the model and the
// determinism), no images, no test split.
#include <fmt/format.h>

#include <utility>

#include "datasets/clustered_gaussian.h"
#include "datasets/dataset.h"

namespace dq {
namespace {

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
      // The neighbour-search zoo's options (datasets/embedding_zoo.h); at 0 they draw nothing.
      {"cluster_size_power", ParamType::Double, 0.0, "power-law cluster sizes: weight (k+1)^-power (0: uniform)", {}, 0.0, 10.0, true},
      {"anisotropy", ParamType::Double, 0.0, "per-cluster spread per dimension times exp(anisotropy * N(0,1)) (0: round)", {}, 0.0, 10.0, true},
      {"student_t_dof", ParamType::Int, int64_t{0}, "Student-t within-cluster noise with these degrees of freedom (0: Gaussian)", {}, 0.0, 1000.0, true},
      {"manifold_dim", ParamType::Int, int64_t{0}, "rows on a smooth manifold of this dimension per class instead of clusters (0: clusters)", {}, 0.0, 64.0, true},
  };
  info.load = [](const Params& p) {
    Dataset d = generate({.classes = p.get_int("classes"),
                          .per_class = p.get_int("per_class"),
                          .dim = p.get_int("dim"),
                          .clusters_per_class = p.get_int("clusters_per_class"),
                          .cluster_spread = p.get_double("cluster_spread"),
                          .class_spread = p.get_double("class_spread"),
                          .spectrum_decay = p.get_double("spectrum_decay"),
                          .near_duplicates = p.get_double("near_duplicates"),
                          .duplicate_noise = p.get_double("duplicate_noise"),
                          .seed = static_cast<uint64_t>(p.get_int("seed")),
                          .cluster_size_power = p.get_double("cluster_size_power"),
                          .anisotropy = p.get_double("anisotropy"),
                          .student_t_dof = p.get_int("student_t_dof"),
                          .manifold_dim = p.get_int("manifold_dim")});
    d.fingerprint = "synthetic_embeddings|" + p.canonical();
    validate_dataset(d, "synthetic_embeddings");
    return d;
  };
  info.fingerprint = [](const Params& p) { return "synthetic_embeddings|" + p.canonical(); };
  info.provides_images = false;
  info.sizes = [](const Params& p) -> std::optional<DatasetSizes> {
    const int64_t classes = p.get_int("classes"), per_class = p.get_int("per_class");
    return DatasetSizes{.train = classes * per_class, .largest_class = per_class, .dim = p.get_int("dim")};
  };
  return info;
}

}  // namespace
DQ_REGISTER_DATASET(make_synthetic_embeddings_info);
}  // namespace dq
