// The neighbour-search zoo (datasets/embedding_zoo.h): every member loads through the
// synthetic_embeddings kind, deterministically, finite, each different from the others; the zoo's
// options change the data the way they say (heavier tails, unequal clusters); the scale experiment
// spells out exactly the zoo's settings; embeddings_npy reads real embeddings and refuses bad files.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/npy.h"
#include "datasets/dataset.h"
#include "datasets/embedding_zoo.h"
#include "harness/experiment.h"
#include "tests/test_helpers.h"

using namespace dq;

namespace {

Dataset load_kind(const std::string& kind, const std::map<std::string, std::string>& values) {
  const auto& info = DatasetRegistry::instance().find(kind, "test");
  Params p("dataset", info.params);
  for (const auto& [k, v] : values) p.set_from_text(k, v, "test");
  return info.load(p);
}

Dataset load_member(const ZooMember& m, int64_t per_class, int64_t dim) {
  return load_kind("synthetic_embeddings", zoo_params(m, 2, per_class, dim));
}

// Largest row norm over the median one (around the class mean of each row's class).
double tail_ratio(const Dataset& d) {
  std::vector<double> norms;
  const int64_t per_class = d.train.n / d.num_classes();
  for (int64_t c = 0; c < d.num_classes(); ++c) {
    std::vector<double> mean(static_cast<size_t>(d.feature_dim), 0.0);
    for (int64_t i = c * per_class; i < (c + 1) * per_class; ++i)
      for (int64_t k = 0; k < d.feature_dim; ++k) mean[static_cast<size_t>(k)] += d.train_features[static_cast<size_t>(i * d.feature_dim + k)] / per_class;
    for (int64_t i = c * per_class; i < (c + 1) * per_class; ++i) {
      double s = 0;
      for (int64_t k = 0; k < d.feature_dim; ++k) {
        const double e = d.train_features[static_cast<size_t>(i * d.feature_dim + k)] - mean[static_cast<size_t>(k)];
        s += e * e;
      }
      norms.push_back(std::sqrt(s));
    }
  }
  std::sort(norms.begin(), norms.end());
  return norms.back() / norms[norms.size() / 2];
}

}  // namespace

TEST_CASE("every zoo member loads, deterministically, finite and distinct", "[datasets][zoo]") {
  std::set<std::vector<float>> seen;
  for (const ZooMember& m : embedding_zoo()) {
    INFO("member " << m.name);
    const Dataset a = load_member(m, 400, 48), b = load_member(m, 400, 48);
    REQUIRE(a.train.n == 800);
    REQUIRE(a.feature_dim == 48);
    REQUIRE(a.num_classes() == 2);
    REQUIRE(a.train_features == b.train_features);
    REQUIRE(std::all_of(a.train_features.begin(), a.train_features.end(), [](float v) { return std::isfinite(v); }));
    REQUIRE(seen.insert(a.train_features).second);
  }
  REQUIRE_THROWS_WITH(find_zoo_member("gaussian"), Catch::Contains("members: mixture, tight_clusters"));
  REQUIRE(zoo_params(find_zoo_member("tight_clusters"), 1, 200000, 512).at("clusters_per_class") == "2000");
}

TEST_CASE("the zoo's options do what they say", "[datasets][zoo]") {
  const std::map<std::string, std::string> base = {{"classes", "1"}, {"per_class", "3000"}, {"dim", "32"},
                                                   {"clusters_per_class", "1"}, {"cluster_spread", "1"},
                                                   {"near_duplicates", "0"}, {"spectrum_decay", "0"}};
  auto with = [&](const char* key, const char* value) {
    auto p = base;
    p[key] = value;
    return load_kind("synthetic_embeddings", p);
  };
  // Student-t rows (3 degrees of freedom) reach much farther out than Gaussian ones.
  REQUIRE(tail_ratio(with("student_t_dof", "3")) > 2 * tail_ratio(load_kind("synthetic_embeddings", base)));
  // Power-law sizes (weight (k+1)^-1.5 over 50 clusters): the largest cluster holds far more rows
  // than the smallest. Clusters of spread 0.01 are told apart by their rows' first coordinates.
  auto p = base;
  p["clusters_per_class"] = "50";
  p["cluster_size_power"] = "1.5";
  p["cluster_spread"] = "0.01";
  const Dataset powerlaw = load_kind("synthetic_embeddings", p);
  std::map<std::vector<int>, int64_t> sizes;
  for (int64_t i = 0; i < powerlaw.train.n; ++i) {
    std::vector<int> key;
    for (int64_t k = 0; k < 4; ++k) key.push_back(static_cast<int>(std::lround(powerlaw.train_features[static_cast<size_t>(i * 32 + k)] * 4)));
    ++sizes[key];
  }
  int64_t largest = 0, smallest = powerlaw.train.n;
  for (const auto& [key, count] : sizes) largest = std::max(largest, count), smallest = std::min(smallest, count);
  REQUIRE(largest > 20 * smallest);
  // The options at 0 leave the data as it was (the pinned bytes of synthetic_embeddings are tested in
  // test_bgfdq_synthetic.cpp); a manifold of dimension 2 has rows that are not clusters of copies.
  REQUIRE(with("anisotropy", "0").train_features == load_kind("synthetic_embeddings", base).train_features);
  REQUIRE(with("manifold_dim", "2").train_features != load_kind("synthetic_embeddings", base).train_features);
}

TEST_CASE("the scale experiment's zoo rows are the zoo's settings", "[datasets][zoo]") {
  const Experiment ex = load_experiment(std::string(DQ_SOURCE_DIR) + "/experiments/scale/zoo_scale.yaml");
  std::set<std::string> members;
  for (const auto& cell : ex.cells) {
    if (cell.dataset.kind != "synthetic_embeddings") continue;
    REQUIRE(cell.dataset.name.starts_with("zoo_"));
    const ZooMember& m = find_zoo_member(cell.dataset.name.substr(4));
    members.insert(m.name);
    Params want("dataset", DatasetRegistry::instance().find("synthetic_embeddings", "test").params);
    for (const auto& [k, v] : zoo_params(m, 1, 200000, 512)) want.set_from_text(k, v, "test");
    INFO("dataset " << cell.dataset.name);
    REQUIRE(cell.dataset.params.canonical() == want.canonical());
  }
  REQUIRE(members.size() == embedding_zoo().size());
}

TEST_CASE("embeddings_npy reads real embeddings as features and refuses bad files", "[datasets][zoo]") {
  const auto dir = dq::test::scratch_dir("embeddings_npy");
  const std::vector<float> z = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<int64_t> y = {7, 3, 7, 3};
  write_npy((dir / "z.npy").string(), z.data(), {4, 2});
  write_npy((dir / "y.npy").string(), y.data(), {4});
  const Dataset d = load_kind("embeddings_npy", {{"path", (dir / "z.npy").string()}, {"labels", (dir / "y.npy").string()}});
  REQUIRE(d.train.n == 4);
  REQUIRE(d.feature_dim == 2);
  REQUIRE(d.class_names == std::vector<std::string>{"3", "7"});
  REQUIRE(d.train.labels == std::vector<int64_t>{1, 0, 1, 0});
  REQUIRE(d.train_features == z);
  REQUIRE_FALSE(d.has_images());
  write_npy((dir / "short.npy").string(), y.data(), {3});
  CHECK_THROWS_WITH(load_kind("embeddings_npy", {{"path", (dir / "z.npy").string()}, {"labels", (dir / "short.npy").string()}}),
                    Catch::Contains("3 labels for the 4 rows"));
  CHECK_THROWS_WITH(load_kind("embeddings_npy", {{"path", (dir / "none.npy").string()}, {"labels", (dir / "y.npy").string()}}),
                    Catch::Contains("none.npy"));
  // Before: a missing key read as an empty file name, ": file not found", naming no key.
  CHECK_THROWS_WITH(load_kind("embeddings_npy", {{"labels", (dir / "y.npy").string()}}),
                    Catch::Equals("embeddings_npy needs 'path': the N x d embeddings (.npy)"));
  {
    const auto& info = DatasetRegistry::instance().find("embeddings_npy", "test");
    Params p("dataset", info.params);
    p.set_from_text("path", (dir / "z.npy").string(), "test");
    CHECK_THROWS_WITH(info.fingerprint(p), Catch::Equals("embeddings_npy needs 'labels': the N integer labels (.npy)"));
  }
  const std::vector<float> bad = {1, NAN, 3, 4, 5, 6, 7, 8};
  write_npy((dir / "nan.npy").string(), bad.data(), {4, 2});
  CHECK_THROWS(load_kind("embeddings_npy", {{"path", (dir / "nan.npy").string()}, {"labels", (dir / "y.npy").string()}}));
}
