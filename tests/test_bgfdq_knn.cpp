// Neighbour identification against brute force: exact lists (duplicates, ties, offsets, tiny tiles),
// lambda_C against a full sort of all pairs, approximate and clustered search, recall@k, symmetric
// search and thread-count independence. The graph built from them (cache, K sweeps, auto):
// test_bgfdq_knn_graph.cpp.
#include <catch2/catch.hpp>
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "core/error.h"
#include "methods/duplicate_rows.h"
#include "methods/knn/device_search.h"
#include "methods/knn/knn.h"
#include "models/models_library.h"
#include "tests/test_bgfdq_data.h"
#include "tests/test_helpers.h"

using namespace dq;
using dq::test::big_budget;
using dq::test::Points;

namespace {

void require_equal_to_brute_force(const NeighbourLists& lists, const Points& p, int64_t k) {
  const auto truth = dq::test::brute_knn(p, k);
  REQUIRE(lists.n == p.n);
  REQUIRE(lists.k == k);
  for (int64_t i = 0; i < p.n; ++i) {
    const auto& want = truth[static_cast<size_t>(i)];
    for (int64_t t = 0; t < k; ++t) {
      INFO("row " << i << " slot " << t);
      if (t < static_cast<int64_t>(want.size())) {
        REQUIRE(lists.ids_of(i)[t] == want[static_cast<size_t>(t)].second);
        REQUIRE(lists.dist_of(i)[t] == static_cast<float>(want[static_cast<size_t>(t)].first));
      } else {
        REQUIRE(lists.ids_of(i)[t] == -1);
        REQUIRE(std::isinf(lists.dist_of(i)[t]));
      }
    }
  }
}

}  // namespace

TEST_CASE("exact_sqdist is the plain sum of squared differences", "[bgfdq]") {
  const float a[5] = {1, 2, 3, 4, 5}, b[5] = {0, 4, 3, 1, -5};
  REQUIRE(exact_sqdist(a, b, 5) == 1.0 + 4 + 0 + 9 + 100);
  REQUIRE(exact_sqdist(a, a, 5) == 0.0);
}

// NaN and infinity never reach here: core/embedding_check.h refuses them where embeddings enter
// (tests/test_embedding_check.cpp).
TEST_CASE("duplicate groups join equal rows, -0 with +0", "[bgfdq]") {
  Points p{5, 2, {1, 2, 0.0f, 3, 1, 2, -0.0f, 3, 1, 2.5f}};
  const DuplicateGroups g = duplicate_groups(p.z.data(), p.n, p.d);
  REQUIRE(g.group == std::vector<int32_t>{0, 1, 0, 1, 4});
}

TEST_CASE("exact self-search equals a full sort on a random 1000 x 512 set", "[bgfdq]") {
  const Points p = dq::test::clustered_points(1000, 512, 8, 0.0, 11);
  const auto r = exact_self_knn(p.matrix(), 50, {20, 256ull << 20}, big_budget());
  require_equal_to_brute_force(r.lists, p, 20);
  REQUIRE(r.duplicates == 0);
}

TEST_CASE("exact self-search with duplicates, ties, an offset and tiny tiles", "[bgfdq]") {
  SECTION("many exact duplicates, some groups larger than k") {
    Points p = dq::test::clustered_points(400, 24, 5, 0.0, 3);
    for (int64_t i = 1; i <= 40; ++i) dq::test::copy_row(p, 0, i * 7);   // a group of 41 (> k + 1)
    for (int64_t i = 0; i < 30; ++i) dq::test::copy_row(p, 300 + i, 350 + i);  // 30 pairs
    const auto r = exact_self_knn(p.matrix(), 50, {20, 4096}, big_budget());  // a few rows per tile
    require_equal_to_brute_force(r.lists, p, 20);
    REQUIRE(r.duplicates == 70);
  }
  SECTION("integer grid: many equal distances, ties to the lower index") {
    const Points p = dq::test::grid_points(300, 4, 3, 5);
    const auto r = exact_self_knn(p.matrix(), 50, {20, 1 << 20}, big_budget());
    require_equal_to_brute_force(r.lists, p, 20);
  }
  SECTION("a large common offset: distances tiny next to the norms") {
    const Points p = dq::test::clustered_points(300, 64, 4, 1.0e4, 9);
    const auto r = exact_self_knn(p.matrix(), 50, {10, 1 << 20}, big_budget());
    require_equal_to_brute_force(r.lists, p, 10);
  }
  SECTION("fewer samples than k: every other sample, then empty slots") {
    const Points p = dq::test::clustered_points(6, 8, 2, 0.0, 1);
    const auto r = exact_self_knn(p.matrix(), 50, {20, 1 << 20}, big_budget());
    require_equal_to_brute_force(r.lists, p, 20);
  }
  SECTION("a single sample has no neighbours") {
    const Points p = dq::test::clustered_points(1, 8, 1, 0.0, 1);
    const auto r = exact_self_knn(p.matrix(), 50, {20, 1 << 20}, big_budget());
    REQUIRE(r.lists.ids_of(0)[0] == -1);
    REQUIRE(r.smallest_pairs.empty());
  }
}

TEST_CASE("lambda_C pairs equal a full sort of all pairs, duplicates excluded", "[bgfdq]") {
  SECTION("smallest non-zero pairs hidden behind duplicates") {
    // 30 copies of one point and a second point near them: the 30 pairs (copy, neighbour) are among
    // the smallest non-zero pairs, yet the copies' k = 20 lists are full of zero-distance copies.
    Points p = dq::test::clustered_points(200, 16, 4, 0.0, 21);
    for (int64_t i = 1; i < 30; ++i) dq::test::copy_row(p, 0, i);
    dq::test::copy_row(p, 0, 30);
    p.row(30)[0] += 1e-3f;
    const auto r = exact_self_knn(p.matrix(), 50, {20, 1 << 20}, big_budget());
    REQUIRE(r.smallest_pairs.size() == 50);
    double sum = 0;
    for (double v : r.smallest_pairs) sum += v;
    REQUIRE(sum / 50 == Approx(dq::test::brute_lambda(p, 50)).epsilon(1e-12));
    REQUIRE(r.smallest_pairs.front() > 0);
    REQUIRE(std::is_sorted(r.smallest_pairs.begin(), r.smallest_pairs.end()));
    // The first 30 are exactly the copy-neighbour distance.
    REQUIRE(r.smallest_pairs[29] == r.smallest_pairs[0]);
  }
  SECTION("grid points: heavy ties and duplicates") {
    const Points p = dq::test::grid_points(250, 3, 3, 8);  // only 27 distinct points
    const auto r = exact_self_knn(p.matrix(), 50, {20, 1 << 16}, big_budget());
    double sum = 0;
    for (double v : r.smallest_pairs) sum += v;
    REQUIRE(sum / static_cast<double>(r.smallest_pairs.size()) == Approx(dq::test::brute_lambda(p, 50)).epsilon(1e-12));
  }
  SECTION("fewer than 50 non-zero pairs: all of them") {
    Points p = dq::test::clustered_points(10, 8, 2, 0.0, 2);
    for (int64_t i = 2; i < 10; ++i) dq::test::copy_row(p, i % 2, i);  // 5 copies of row 0, 5 of row 1
    const auto r = exact_self_knn(p.matrix(), 50, {20, 1 << 20}, big_budget());
    REQUIRE(r.smallest_pairs.size() == 25);
    const double ab = exact_sqdist(p.row(0), p.row(1), p.d);
    for (double v : r.smallest_pairs) REQUIRE(v == ab);
    REQUIRE(r.duplicates == 8);
  }
}

TEST_CASE("cross search: queries against another set, optionally excluding themselves", "[bgfdq]") {
  const Points base = dq::test::grid_points(120, 3, 4, 4);
  const Points queries = dq::test::clustered_points(30, 3, 2, 1.0, 5);
  const auto lists = exact_knn(queries.matrix(), base.matrix(), {}, {7, 1 << 12}, big_budget());
  for (int64_t q = 0; q < queries.n; ++q) {
    std::vector<std::pair<double, int32_t>> all;
    for (int64_t j = 0; j < base.n; ++j)
      all.emplace_back(exact_sqdist(queries.z.data() + q * 3, base.z.data() + j * 3, 3), static_cast<int32_t>(j));
    std::sort(all.begin(), all.end());
    for (int64_t t = 0; t < 7; ++t) REQUIRE(lists.ids_of(q)[t] == all[static_cast<size_t>(t)].second);
  }
  // Sampled rows of the base itself, each excluded from its own list: the self-search rows.
  const std::vector<int64_t> sample = {5, 0, 119, 64};
  std::vector<float> rows;
  for (int64_t i : sample) rows.insert(rows.end(), base.z.begin() + i * 3, base.z.begin() + i * 3 + 3);
  const auto sampled = exact_knn(RowMatrix{rows.data(), 4, 3}, base.matrix(), sample, {7, 1 << 12}, big_budget());
  const auto self = exact_self_knn(base.matrix(), 0, {7, 1 << 12}, big_budget());
  for (size_t s = 0; s < sample.size(); ++s)
    for (int64_t t = 0; t < 7; ++t) REQUIRE(sampled.ids_of(static_cast<int64_t>(s))[t] == self.lists.ids_of(sample[s])[t]);
}

TEST_CASE("exact search declares its buffers to the memory budget", "[bgfdq]") {
  const Points p = dq::test::clustered_points(2000, 64, 4, 0.0, 5);
  MemoryBudget tight(200 << 10);  // below the centred copy (2000 x 65 floats)
  REQUIRE_THROWS_AS(exact_self_knn(p.matrix(), 50, {20, 1 << 20}, tight), OutOfMemory);
  MemoryBudget enough(16 << 20);
  exact_self_knn(p.matrix(), 50, {20, 1 << 20}, enough);
  REQUIRE(enough.peak() > 0);
  REQUIRE(enough.peak() <= (16u << 20));
  REQUIRE(enough.in_use() == 0);
}

TEST_CASE("approximate search: exact distances for what it lists, recall against exact", "[bgfdq]") {
  const Points p = dq::test::clustered_points(1500, 32, 10, 0.0, 17);
  const auto exact = exact_self_knn(p.matrix(), 50, {20, 1 << 22}, big_budget());

  SECTION("a flat FAISS index with re-ranking finds the exact lists") {
    const auto r = approximate_self_knn(p.matrix(), {"Flat", 20, 0, 0, 2.0, 50}, big_budget());
    REQUIRE(r.lists.ids == exact.lists.ids);
    REQUIRE(r.lists.dist == exact.lists.dist);
    const std::vector<int64_t> sample = {0, 10, 500, 1499};
    REQUIRE(recall_at_k(p.matrix(), r.lists, sample, {20, 1 << 22}, big_budget()) == 1.0);
    // Pairs come from the candidates, which include each row's nearest neighbours: here all of the
    // 50 smallest.
    REQUIRE(r.smallest_pairs == exact.smallest_pairs);
  }
  SECTION("PCA to 4 dimensions: lists are sorted, exact for the ids listed, recall measured") {
    const auto r = approximate_self_knn(p.matrix(), {"PCA4,Flat", 20, 0, 0, 1.0, 50}, big_budget());
    for (int64_t i = 0; i < p.n; ++i)
      for (int64_t t = 0; t < 20; ++t) {
        const int32_t j = r.lists.ids_of(i)[t];
        REQUIRE(j >= 0);
        REQUIRE(j != i);
        REQUIRE(r.lists.dist_of(i)[t] == static_cast<float>(exact_sqdist(p.row(i), p.row(j), p.d)));
        if (t > 0) REQUIRE(r.lists.dist_of(i)[t - 1] <= r.lists.dist_of(i)[t]);
      }
    // recall_at_k by hand over the whole set
    int64_t hits = 0;
    for (int64_t i = 0; i < p.n; ++i)
      for (int64_t t = 0; t < 20; ++t) hits += r.lists.dist_of(i)[t] <= exact.lists.dist_of(i)[19];
    std::vector<int64_t> all(static_cast<size_t>(p.n));
    std::iota(all.begin(), all.end(), 0);
    const double recall = recall_at_k(p.matrix(), r.lists, all, {20, 1 << 22}, big_budget());
    REQUIRE(recall == Approx(static_cast<double>(hits) / (20.0 * static_cast<double>(p.n))).epsilon(1e-12));
    REQUIRE(recall < 1.0);
    REQUIRE(recall > 0.1);
  }
  SECTION("bad factory strings and search parameters are user errors") {
    REQUIRE_THROWS_AS(approximate_self_knn(p.matrix(), {"NoSuchIndex", 20, 0, 0, 2.0, 50}, big_budget()), Error);
    REQUIRE_THROWS_AS(approximate_self_knn(p.matrix(), {"Flat", 20, 8, 0, 2.0, 50}, big_budget()), Error);
  }
}

TEST_CASE("recall counts listed neighbours within the exact k-th distance", "[bgfdq]") {
  const Points p = dq::test::clustered_points(200, 8, 3, 0.0, 23);
  const auto exact = exact_self_knn(p.matrix(), 0, {5, 1 << 20}, big_budget());
  NeighbourLists damaged = exact.lists;
  // Row 3: replace its two nearest with its two farthest rows.
  std::vector<std::pair<double, int32_t>> far;
  for (int64_t j = 0; j < p.n; ++j) far.emplace_back(exact_sqdist(p.row(3), p.row(j), p.d), static_cast<int32_t>(j));
  std::sort(far.rbegin(), far.rend());
  damaged.ids[3 * 5 + 0] = far[0].second;
  damaged.dist[3 * 5 + 0] = static_cast<float>(far[0].first);
  damaged.ids[3 * 5 + 1] = far[1].second;
  damaged.dist[3 * 5 + 1] = static_cast<float>(far[1].first);
  const std::vector<int64_t> sample = {3, 4};
  REQUIRE(recall_at_k(p.matrix(), damaged, sample, {5, 1 << 20}, big_budget()) == Approx(8.0 / 10.0));
}

TEST_CASE("exact search gives the same lists and pairs for any thread count", "[bgfdq]") {
  dq::test::Points p = dq::test::clustered_points(700, 40, 6, 5.0, 51);
  for (int64_t i = 0; i < 25; ++i) dq::test::copy_row(p, 3, 100 + i);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = exact_self_knn(p.matrix(), 50, {20, 1 << 18}, big_budget());
  omp_set_num_threads(3);
  const auto three = exact_self_knn(p.matrix(), 50, {20, 1 << 18}, big_budget());
  omp_set_num_threads(threads);
  REQUIRE(one.lists.ids == three.lists.ids);
  REQUIRE(one.lists.dist == three.lists.dist);
  REQUIRE(one.smallest_pairs == three.smallest_pairs);
}

TEST_CASE("approximate search builds the same HNSW lists for any thread count", "[bgfdq]") {
  // FAISS fills an HNSW graph from several threads at once; the index must not depend on their
  // order (it did: two runs of one HNSW32 cell stored different selections).
  const Points p = dq::test::clustered_points(3000, 24, 12, 0.0, 61);
  const ApproxSearchOptions hnsw{"HNSW8", 10, 0, 16, 1.0, 50};
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = approximate_self_knn(p.matrix(), hnsw, big_budget());
  std::vector<SelfKnnResult> many;
  omp_set_num_threads(4);
  for (int run = 0; run < 3; ++run) many.push_back(approximate_self_knn(p.matrix(), hnsw, big_budget()));
  omp_set_num_threads(threads);
  for (const auto& r : many) {
    REQUIRE(r.lists.ids == one.lists.ids);
    REQUIRE(r.lists.dist == one.lists.dist);
    REQUIRE(r.smallest_pairs == one.smallest_pairs);
  }
  REQUIRE(omp_get_max_threads() == threads);
}

TEST_CASE("clustered search: exact distances within probed cells, high recall, exact when all cells are probed",
          "[bgfdq]") {
  const Points p = dq::test::clustered_points(3000, 32, 12, 0.0, 61);
  const auto exact = exact_self_knn(p.matrix(), 50, {20, 1 << 22}, big_budget());
  SECTION("every cell probed: the exact search") {
    const auto r = clustered_self_knn(p.matrix(), {20, 6, 6, 50, 1 << 22}, big_budget());
    REQUIRE(r.lists.ids == exact.lists.ids);
    REQUIRE(r.pairs_exact);
  }
  SECTION("a few cells probed") {
    const auto r = clustered_self_knn(p.matrix(), {20, 40, 4, 50, 1 << 22}, big_budget());
    REQUIRE_FALSE(r.pairs_exact);
    REQUIRE(dq::test::exact_lists_problem(r.lists, p, 20) == "");
    std::vector<int64_t> all(static_cast<size_t>(p.n));
    std::iota(all.begin(), all.end(), 0);
    REQUIRE(recall_at_k(p.matrix(), r.lists, all, {20, 1 << 22}, big_budget()) > 0.9);
    // Deterministic for a fixed thread count.
    const auto again = clustered_self_knn(p.matrix(), {20, 40, 4, 50, 1 << 22}, big_budget());
    REQUIRE(again.lists.ids == r.lists.ids);
    REQUIRE(again.smallest_pairs == r.smallest_pairs);
  }
  SECTION("running out of budget inside a cell is still OutOfMemory") {
    MemoryBudget tight(3000ull * 20 * 8 + 3000ull * 35 * 4 + 3000ull * 12 + (64 << 10));
    REQUIRE_THROWS_AS(clustered_self_knn(p.matrix(), {20, 40, 4, 50, 1 << 22}, tight), OutOfMemory);
  }
}

TEST_CASE("symmetric exact search equals the one-sided search and a full sort", "[bgfdq][symmetric]") {
  // Duplicates (a group larger than k), equal distances on a grid, a large offset and a class
  // smaller than k; tile sizes from 8 rows per block (many rounds, a bye when the block count is
  // odd) to one block; 1 and 2 threads.
  Points dup = dq::test::clustered_points(333, 24, 5, 0.0, 3);
  for (int64_t i = 1; i <= 30; ++i) dq::test::copy_row(dup, 0, i * 9);
  for (int64_t i = 0; i < 20; ++i) dq::test::copy_row(dup, 200 + i, 300 + i);
  const std::vector<std::pair<const char*, Points>> sets = {
      {"duplicates", dup},
      {"grid ties", dq::test::grid_points(257, 3, 3, 8)},
      {"offset", dq::test::clustered_points(301, 64, 4, 1.0e4, 9)},
      {"smaller than k", dq::test::clustered_points(13, 8, 2, 0.0, 1)},
  };
  const int threads = omp_get_max_threads();
  for (const auto& [name, p] : sets) {
    const double lambda = dq::test::brute_lambda(p, 50);
    for (const uint64_t tile_bytes : {uint64_t{256}, uint64_t{4096}, uint64_t{40000}, uint64_t{1} << 24}) {
      ExactSearchOptions one_sided{20, tile_bytes, false};
      omp_set_num_threads(1);
      const auto reference = exact_self_knn(p.matrix(), 50, one_sided, big_budget());
      for (const int t : {1, 2}) {
        INFO(name << ", tile " << tile_bytes << " bytes, " << t << " threads");
        omp_set_num_threads(t);
        const auto r = exact_self_knn(p.matrix(), 50, {20, tile_bytes, true}, big_budget());
        REQUIRE(r.lists.ids == reference.lists.ids);
        REQUIRE(r.lists.dist == reference.lists.dist);
        REQUIRE(r.smallest_pairs == reference.smallest_pairs);
        REQUIRE(r.duplicates == reference.duplicates);
        double sum = 0;
        for (double v : r.smallest_pairs) sum += v;
        REQUIRE((r.smallest_pairs.empty() ? 0.0 : sum / static_cast<double>(r.smallest_pairs.size())) ==
                Approx(lambda).epsilon(1e-12));
        require_equal_to_brute_force(r.lists, p, 20);
      }
    }
  }
  omp_set_num_threads(threads);
}

TEST_CASE("symmetric exact search declares its tiles and rankings to the memory budget", "[bgfdq][symmetric]") {
  const Points p = dq::test::clustered_points(2000, 64, 4, 0.0, 5);
  // Enough for the centred copy (2000 x 67 floats) and the lists, not for the rankings (2000 x 20 x 12).
  MemoryBudget tight(2000ull * 67 * 4 + 2000ull * 20 * 8 + (100 << 10));
  REQUIRE_THROWS_AS(exact_self_knn(p.matrix(), 50, {20, 1 << 20, true}, tight), OutOfMemory);
  MemoryBudget enough(16 << 20);
  exact_self_knn(p.matrix(), 50, {20, 1 << 20, true}, enough);
  REQUIRE(enough.peak() <= (16u << 20));
  REQUIRE(enough.peak() >= 2000ull * 20 * 12);
  REQUIRE(enough.in_use() == 0);
}

namespace {
int device_loader_calls = 0;
bool counting_loader() {
  ++device_loader_calls;
  return false;  // installs nothing, as in a build without the models library
}
}  // namespace

TEST_CASE("a device search without a backend asks its loader once, then refuses by name", "[bgfdq]") {
  REQUIRE(!device_knn_available());  // dq_tests links no LibTorch backend
  const std::vector<float> rows(4 * 2, 1.0f);
  MemoryBudget memory(1 << 20);
  device_loader_calls = 0;
  set_device_search_loader(&counting_loader);
  CHECK_THROWS_WITH(device_exact_self_knn({rows.data(), 4, 2}, 0, ExactSearchOptions{.k = 1}, DeviceSearchOptions{}, memory),
                    Catch::Contains("needs LibTorch"));
  CHECK(device_loader_calls == 1);
  set_device_search_loader(&load_models_library_if_enabled);  // what models/models_library.cpp registers
}
