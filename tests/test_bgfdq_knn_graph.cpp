// The per-class KNN graph BGFDQ consumes (build_knn_graph): its on-disk cache, recall and lambda_C
// flags of approximate graphs, K sweeps served as prefixes of one graph, and knn=auto. The searches
// themselves are tested against brute force in test_bgfdq_knn.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include "core/error.h"
#include "methods/knn/knn.h"
#include "tests/test_bgfdq_data.h"
#include "tests/test_helpers.h"

using namespace dq;
using dq::test::big_budget;
using dq::test::Points;

TEST_CASE("the KNN graph is cached per embedding key, class and options", "[bgfdq]") {
  const auto dir = dq::test::scratch_dir("bgfdq_knn_cache");
  Points p = dq::test::clustered_points(300, 16, 4, 0.0, 31);
  dq::test::copy_row(p, 0, 1);
  std::vector<int64_t> ids(300);
  std::iota(ids.begin(), ids.end(), 1000);
  const ClassView cls{7, ids, p.z.data(), p.d};
  CellResources resources;
  resources.cache_dir = dir.string();
  resources.embedding_key = "test-embeddings";
  KnnGraphOptions options;
  const KnnGraph first = build_knn_graph(cls, options, big_budget(), resources);
  REQUIRE_FALSE(first.from_cache);
  REQUIRE(first.duplicates == 1);
  REQUIRE(first.lambda_c == Approx(dq::test::brute_lambda(p, 50)).epsilon(1e-12));
  const KnnGraph second = build_knn_graph(cls, options, big_budget(), resources);
  REQUIRE(second.from_cache);
  REQUIRE(second.lists.ids == first.lists.ids);
  REQUIRE(second.lists.dist == first.lists.dist);
  REQUIRE(second.lambda_c == first.lambda_c);
  REQUIRE(second.duplicates == 1);

  options.lambda_pairs = 10;  // other options: another entry
  REQUIRE_FALSE(build_knn_graph(cls, options, big_budget(), resources).from_cache);
  options.lambda_pairs = 50;
  // A truncated file is rebuilt, not trusted.
  options.k = 20;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) std::filesystem::resize_file(entry.path(), 100);
  const KnnGraph rebuilt = build_knn_graph(cls, options, big_budget(), resources);
  REQUIRE_FALSE(rebuilt.from_cache);
  REQUIRE(rebuilt.lists.ids == first.lists.ids);
  // No cache without an embedding key.
  resources.embedding_key.clear();
  REQUIRE_FALSE(build_knn_graph(cls, options, big_budget(), resources).from_cache);
}

TEST_CASE("approximate graphs record recall and flag lambda_C as approximate", "[bgfdq]") {
  const Points p = dq::test::clustered_points(800, 32, 6, 0.0, 41);
  std::vector<int64_t> ids(800);
  std::iota(ids.begin(), ids.end(), 0);
  const ClassView cls{0, ids, p.z.data(), p.d};
  KnnGraphOptions options;
  options.knn = KnnMode::parse("PCA8,Flat");
  options.recall_sample = 200;
  options.recall_target = 0;  // recorded, not kept (test_bgfdq_knn_fast.cpp keeps it)
  const KnnGraph g = build_knn_graph(cls, options, big_budget(), {});
  REQUIRE_FALSE(g.lambda_exact);
  REQUIRE(g.recall > 0.0);
  REQUIRE(g.recall <= 1.0);
  options.recall_sample = 0;
  REQUIRE(std::isnan(build_knn_graph(cls, options, big_budget(), {}).recall));
}

// The class both K-sweep tests search: ties everywhere (prefixes must keep the tie order) and a block
// of 12 copies of one row.
struct SweepClass {
  Points p = dq::test::grid_points(240, 3, 4, 12);
  std::vector<int64_t> ids = std::vector<int64_t>(240);
  SweepClass() {
    for (int64_t i = 0; i < 12; ++i) dq::test::copy_row(p, 5, 100 + i);
    std::iota(ids.begin(), ids.end(), 0);
  }
  ClassView view() const { return ClassView{3, ids, p.z.data(), p.d}; }
};

TEST_CASE("a K sweep computes one exact graph and serves the smaller K as prefixes", "[bgfdq][ksweep]") {
  const auto dir = dq::test::scratch_dir("bgfdq_knn_sweep");
  const SweepClass sweep;
  const ClassView cls = sweep.view();
  CellResources resources;
  resources.cache_dir = dir.string();
  resources.embedding_key = "sweep";
  KnnGraphOptions options;
  options.k = 40;
  const KnnGraph largest = build_knn_graph(cls, options, big_budget(), resources);
  REQUIRE_FALSE(largest.from_cache);
  REQUIRE(largest.computed_k == 40);
  for (const int64_t k : {20, 10, 5}) {
    INFO("k = " << k);
    options.k = k;
    const KnnGraph served = build_knn_graph(cls, options, big_budget(), resources);
    const KnnGraph direct = build_knn_graph(cls, options, big_budget(), {});
    REQUIRE(served.from_cache);
    REQUIRE(served.computed_k == 40);
    REQUIRE_FALSE(direct.from_cache);
    REQUIRE(direct.computed_k == k);
    REQUIRE(served.lists.k == k);
    REQUIRE(served.lists.ids == direct.lists.ids);
    REQUIRE(served.lists.dist == direct.lists.dist);
    REQUIRE(served.lambda_c == direct.lambda_c);
    REQUIRE(served.duplicates == direct.duplicates);
  }
  // A larger k than any cached one is computed (and then serves as well); approximate modes are not
  // served from prefixes (their candidates, pairs and recall depend on k).
  options.k = 60;
  REQUIRE_FALSE(build_knn_graph(cls, options, big_budget(), resources).from_cache);
  options.knn = KnnMode::parse("clustered");
  options.nlist = 6;
  options.nprobe = 2;
  options.k = 40;
  build_knn_graph(cls, options, big_budget(), resources);
  options.k = 20;
  const KnnGraph clustered = build_knn_graph(cls, options, big_budget(), resources);
  REQUIRE_FALSE(clustered.from_cache);
  REQUIRE(clustered.computed_k == 20);
  REQUIRE_FALSE(clustered.exact_search);
}

TEST_CASE("a K sweep listed smallest K first still computes one graph, at the sweep's largest K", "[bgfdq][ksweep]") {
  const auto dir = dq::test::scratch_dir("bgfdq_knn_sweep_hint");
  const SweepClass sweep;
  const ClassView cls = sweep.view();
  CellResources resources;
  resources.cache_dir = dir.string();
  resources.embedding_key = "sweep-hint";
  resources.knn_sweep_k = 40;  // what the harness finds in the experiment's cells
  KnnGraphOptions options;
  for (const int64_t k : {5, 10, 20, 40}) {
    INFO("k = " << k);
    options.k = k;
    const KnnGraph swept = build_knn_graph(cls, options, big_budget(), resources);
    const KnnGraph direct = build_knn_graph(cls, options, big_budget(), {});
    REQUIRE(swept.from_cache == (k != 5));  // the first cell builds at k = 40, the others are served
    REQUIRE(swept.computed_k == 40);
    REQUIRE(swept.lists.k == k);
    REQUIRE(swept.lists.ids == direct.lists.ids);
    REQUIRE(swept.lists.dist == direct.lists.dist);
    REQUIRE(swept.lambda_c == direct.lambda_c);
  }
  std::vector<std::string> stored;  // one graph file, at the sweep's largest k
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir))
    if (f.is_regular_file()) stored.push_back(f.path().filename().string());
  REQUIRE(stored == std::vector<std::string>{"k40.bin"});
  // Without a cache there is nothing to serve from: the hint changes nothing.
  CellResources uncached;
  uncached.knn_sweep_k = 40;
  options.k = 5;
  REQUIRE(build_knn_graph(cls, options, big_budget(), uncached).computed_k == 5);
  // Approximate modes ignore the hint (their lists are not prefixes of a larger k's).
  options.knn = KnnMode::parse("clustered");
  options.nlist = 6;
  options.nprobe = 2;
  REQUIRE(build_knn_graph(cls, options, big_budget(), resources).computed_k == 5);
}

TEST_CASE("knn=auto searches small classes exactly and large ones with the clustered search", "[bgfdq][ksweep]") {
  KnnGraphOptions options;
  options.knn = KnnMode::parse("auto");
  REQUIRE(options.resolved(kAutoExactMaxRows).knn.search == KnnSearch::Exact);
  REQUIRE(options.resolved(kAutoExactMaxRows + 1).knn.search == KnnSearch::Clustered);
  options.knn = KnnMode::parse("PCA8,Flat");
  REQUIRE(options.resolved(kAutoExactMaxRows + 1).knn == KnnMode{KnnSearch::Faiss, "PCA8,Flat"});
  const Points p = dq::test::clustered_points(300, 16, 4, 0.0, 31);
  std::vector<int64_t> ids(300);
  std::iota(ids.begin(), ids.end(), 0);
  const ClassView cls{0, ids, p.z.data(), p.d};
  options.knn = KnnMode::parse("auto");
  const KnnGraph g = build_knn_graph(cls, options, big_budget(), {});
  options.knn = KnnMode::parse("exact");
  const KnnGraph exact = build_knn_graph(cls, options, big_budget(), {});
  REQUIRE(g.exact_search);
  REQUIRE(g.lists.ids == exact.lists.ids);
  REQUIRE(g.lambda_c == exact.lambda_c);
}

TEST_CASE("the knn mode is parsed once: a FAISS string FAISS cannot build is refused at once", "[bgfdq]") {
  CHECK(KnnMode::parse("exact").search == KnnSearch::Exact);
  CHECK(KnnMode::parse("auto").search == KnnSearch::Auto);
  for (const char* factory : {"HNSW32", "IVF16,Flat", "PCA64,Flat", "IVF64,PQ16"}) {
    INFO(factory);
    const KnnMode m = KnnMode::parse(factory);
    CHECK(m.search == KnnSearch::Faiss);
    CHECK(m.text() == factory);
  }
  for (const char* bad : {"exakt", "Exact", "IVF,Flat", ""}) {
    INFO(bad);
    CHECK_THROWS_WITH(KnnMode::parse(bad), Catch::Contains("parameter 'knn' of method 'bgfdq'") &&
                                               Catch::Contains("is neither exact, clustered, auto nor a FAISS"));
  }
}
