// The one duplicate-row grouping (methods/duplicate_rows.h) and its two callers: KNN's searches and
// GraphCut's dense modes. Before it, KNN asserted finite rows while GraphCut made a NaN row its own
// representative; now both call the same function with one policy.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "core/memory_budget.h"
#include "methods/duplicate_rows.h"
#include "methods/graphcut/graphcut.h"
#include "methods/knn/search.h"
#include "tests/test_dq_data.h"

using namespace dq;

TEST_CASE("duplicate rows: -0 equals +0, a NaN row stands alone, an infinity equals itself", "[dq][bgfdq]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const float tiny = std::numeric_limits<float>::denorm_min();
  const std::vector<float> rows = {
      1, 2, 0,        // 0
      nan, 1, 1,      // 1: holds a NaN
      1, 2, -0.0f,    // 2: row 0 with -0
      nan, 1, 1,      // 3: bit-identical to row 1, still alone
      -0.0f, -0.0f, 5,  // 4
      0, 0, 5,        // 5: row 4 with +0
      inf, 1, 1,      // 6
      inf, 1, 1,      // 7: row 6
      1, 2, 0,        // 8: row 0 again
      1, 2, tiny,     // 9: the smallest denormal is not zero
      1, nan, 0,      // 10: NaN in another place
  };
  const DuplicateGroups g = duplicate_groups(rows.data(), 11, 3);
  CHECK(g.group == std::vector<int32_t>{0, 1, 0, 3, 4, 4, 6, 6, 0, 9, 10});
  CHECK(g.duplicates == 4);       // rows 2, 5, 7, 8
  CHECK(g.non_finite_rows == 5);  // rows 1, 3, 6, 7, 10
  // Reversed (new row r = old row 10 - r): the same groups, each named by its new lowest index.
  std::vector<float> reversed;
  for (int64_t i = 10; i >= 0; --i) reversed.insert(reversed.end(), rows.begin() + i * 3, rows.begin() + i * 3 + 3);
  CHECK(duplicate_groups(reversed.data(), 11, 3).group == std::vector<int32_t>{0, 1, 2, 3, 3, 5, 5, 7, 2, 9, 2});
  CHECK(duplicate_groups(rows.data(), 0, 3).group.empty());
  CHECK(duplicate_groups(rows.data(), 3, 0).group == std::vector<int32_t>{0, 0, 0});  // no values: all equal
}

TEST_CASE("KNN and GraphCut see the same duplicates on ReLU-like rows with -0 copies", "[dq][bgfdq]") {
  const int64_t m = 300, d = 16;
  std::vector<float> z = test::gaussian_mixture(m, d, 6, 0.5, 77);
  for (auto& v : z) v = std::max(v, 0.0f);  // many exact zeros
  // 40 copies whose zeros carry the other sign; the copy is equal, value by value, to its source.
  int64_t flipped = 0;
  for (int64_t c = 0; c < 40; ++c) {
    const int64_t from = c * 5, to = m - 1 - c * 2;  // sources 0..195, copies 221..299
    for (int64_t j = 0; j < d; ++j) {
      const float v = z[static_cast<size_t>(from * d + j)];
      z[static_cast<size_t>(to * d + j)] = v == 0.0f ? -0.0f : v;
      flipped += v == 0.0f;
    }
  }
  REQUIRE(flipped > 40);  // the copies really differ in bits from their sources
  const DuplicateGroups groups = duplicate_groups(z.data(), m, d);
  REQUIRE(groups.duplicates == 40);
  REQUIRE(groups.non_finite_rows == 0);

  // KNN: the exact and the clustered search count the same duplicates.
  MemoryBudget memory(1ull << 30);
  const RowMatrix matrix{z.data(), m, d};
  const SelfKnnResult exact = exact_self_knn(matrix, 50, {.k = 10, .tile_bytes = 1 << 16}, memory);
  CHECK(exact.duplicates == groups.duplicates);
  CHECK(clustered_self_knn(matrix, {.k = 10, .nlist = 4, .nprobe = 4}, memory).duplicates == groups.duplicates);
  // Pairs inside a group are zero and never enter lambda_C's smallest pairs.
  for (double pair : exact.smallest_pairs) CHECK(pair > 0.0);

  // GraphCut: the dense modes equalise the copies with their sources and pick what streaming picks.
  std::vector<int64_t> ids(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) ids[static_cast<size_t>(i)] = i;
  const ClassView cls{0, ids, z.data(), d};
  for (GraphCutKernel kernel : {GraphCutKernel::NegSqEuclid, GraphCutKernel::CosineAffine}) {
    const ClassBins streaming = generate_graphcut_bins(cls, {.bins = 10, .kernel = kernel, .mode = GreedyMode::Streaming}, memory);
    CHECK(generate_graphcut_bins(cls, {.bins = 10, .kernel = kernel, .mode = GreedyMode::Memo}, memory) == streaming);
    CHECK(generate_graphcut_bins(cls, {.bins = 10, .kernel = kernel, .mode = GreedyMode::Naive}, memory) == streaming);
  }
}
