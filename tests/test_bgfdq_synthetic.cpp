// The synthetic_embeddings dataset kind: shape, labels, determinism across thread counts, duplicates.
#include <catch2/catch.hpp>

#include <omp.h>

#include "core/hashing.h"
#include "datasets/dataset.h"
#include "methods/duplicate_rows.h"
#include "methods/knn/search.h"

using namespace dq;

namespace {
Dataset load(const std::vector<std::pair<std::string, std::string>>& args) {
  const auto& info = DatasetRegistry::instance().find("synthetic_embeddings", "test");
  Params p("dataset 'synthetic_embeddings'", info.params);
  for (const auto& [k, v] : args) p.set_from_text(k, v, "test");
  return info.load(p);
}
}  // namespace

TEST_CASE("synthetic embeddings: features and labels, no images", "[bgfdq]") {
  const Dataset d = load({{"classes", "3"}, {"per_class", "500"}, {"dim", "33"}, {"clusters_per_class", "7"}});
  REQUIRE(d.num_classes() == 3);
  REQUIRE(d.train.n == 1500);
  REQUIRE(d.feature_dim == 33);
  REQUIRE(d.train_features.size() == 1500u * 33u);
  REQUIRE(d.test.n == 0);
  REQUIRE(d.train.pixels.empty());
  for (int64_t i = 0; i < 1500; ++i) REQUIRE(d.train.labels[static_cast<size_t>(i)] == i / 500);
  // About 5% near-duplicates by default.
  REQUIRE(d.load_report.at("near_duplicates") > 40);
  REQUIRE(d.load_report.at("near_duplicates") < 110);
}

TEST_CASE("synthetic embeddings are the same for any thread count and differ by seed", "[bgfdq]") {
  const std::vector<std::pair<std::string, std::string>> args = {{"classes", "2"}, {"per_class", "700"}, {"dim", "16"}};
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Dataset one = load(args);
  omp_set_num_threads(std::max(threads, 3));
  const Dataset many = load(args);
  omp_set_num_threads(threads);
  REQUIRE(one.train_features == many.train_features);
  REQUIRE(one.fingerprint == many.fingerprint);
  auto other_args = args;
  other_args.push_back({"seed", "1"});
  const Dataset other = load(other_args);
  REQUIRE(other.train_features != one.train_features);
  REQUIRE(other.fingerprint != one.fingerprint);
}

TEST_CASE("synthetic embeddings: exact copies when duplicate_noise is 0, clusters are tight", "[bgfdq]") {
  const Dataset d = load({{"classes", "1"}, {"per_class", "2000"}, {"dim", "32"}, {"clusters_per_class", "10"},
                          {"near_duplicates", "0.1"}, {"duplicate_noise", "0"}});
  const RowMatrix z{d.train_features.data(), 2000, 32};
  const DuplicateGroups groups = duplicate_groups(z.data, z.rows, z.cols);
  const int64_t copies = groups.duplicates;
  REQUIRE(copies == static_cast<int64_t>(d.load_report.at("near_duplicates")));
  REQUIRE(copies > 150);
  // Tight clusters: a sample's nearest non-copy neighbour is far closer than a random other sample.
  MemoryBudget memory(1 << 30);
  const auto r = exact_self_knn(z, 0, {30, 1 << 24}, memory);
  double nn = 0, random_pair = 0;
  for (int64_t i = 0; i < 2000; ++i) {
    nn += r.lists.dist_of(i)[29];
    random_pair += exact_sqdist(z.row(i), z.row((i * 7919 + 13) % 2000), 32);
  }
  REQUIRE(nn * 10 < random_pair);
}

// The dataset's bytes are pinned (hashes taken from the generator as it was when issue 12 set out to
// share it with the tests and benchmarks): a change to the generator that would change a cached or
// published scale experiment fails here.
TEST_CASE("synthetic embeddings: the exact bytes stay the same", "[bgfdq][datasets]") {
  auto digest = [](const Dataset& d) {
    std::string bytes(reinterpret_cast<const char*>(d.train_features.data()), d.train_features.size() * sizeof(float));
    bytes.append(reinterpret_cast<const char*>(d.train.labels.data()), d.train.labels.size() * sizeof(int64_t));
    return sha256_hex(bytes) + " " + std::to_string(static_cast<int64_t>(d.load_report.at("near_duplicates")));
  };
  // Odd dim (the last Box-Muller pair is half used), a decaying spectrum, noisy copies.
  CHECK(digest(load({{"classes", "3"}, {"per_class", "400"}, {"dim", "37"}, {"clusters_per_class", "7"},
                     {"near_duplicates", "0.1"}, {"seed", "5"}})) == "5ef86412633a32f2c89a9269987e6c29b3449430997768eb2a26cfe620f666b7 114");
  // Exact copies, isotropic, other spreads.
  CHECK(digest(load({{"classes", "2"}, {"per_class", "300"}, {"dim", "16"}, {"clusters_per_class", "3"},
                     {"cluster_spread", "0.3"}, {"class_spread", "2"}, {"spectrum_decay", "0"},
                     {"near_duplicates", "0.2"}, {"duplicate_noise", "0"}})) == "0d2fe98cf169f7871393f27f0975a682c0ac9d72eea0fbc94efec818bd951492 121");
  // The defaults, one class.
  CHECK(digest(load({{"classes", "1"}, {"per_class", "1000"}})) == "33f3657a18210adaa5a4e073fa52dfef4ce13b2867392344f02c643824094c5c 41");
}
