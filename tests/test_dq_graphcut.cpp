// GraphCut bin generation: greedy picks against the set function evaluated from its definition,
// the three modes against each other, bin sizes, OOM behaviour and the bin cache.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "core/error.h"
#include "methods/graphcut/graphcut.h"
#include "test_dq_data.h"
#include "test_helpers.h"

using namespace dq;

namespace {

// s(x, y) straight from the kernel definitions, in double.
double similarity(GraphCutKernel kernel, const float* a, const float* b, int64_t d) {
  if (kernel == GraphCutKernel::NegSqEuclid) {
    double s = 0;
    for (int64_t k = 0; k < d; ++k) s += (static_cast<double>(a[k]) - b[k]) * (static_cast<double>(a[k]) - b[k]);
    return -s;
  }
  double ab = 0, aa = 0, bb = 0;
  for (int64_t k = 0; k < d; ++k) ab += static_cast<double>(a[k]) * b[k], aa += static_cast<double>(a[k]) * a[k],
                                  bb += static_cast<double>(b[k]) * b[k];
  return 0.5 + 0.5 * (aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0);
}

// GraphCut (lambda = 1): f(S) = sum_{i in V, j in S} s_ij - sum_{i, j in S} s_ij.
double graphcut_value(const std::vector<double>& s, int64_t m, const std::vector<int64_t>& pool,
                      const std::vector<int64_t>& bin) {
  double cut = 0, inner = 0;
  for (int64_t j : bin) {
    for (int64_t i : pool) cut += s[static_cast<size_t>(i * m + j)];
    for (int64_t i : bin) inner += s[static_cast<size_t>(i * m + j)];
  }
  return cut - inner;
}

// Greedy maximisation with every marginal gain taken as f(S + x) - f(S); gains within a relative
// 1e-9 of the best count as ties (floating noise between exact duplicates) and go to the lowest
// position.
ClassBins reference_bins(const ClassView& cls, int64_t bins, GraphCutKernel kernel) {
  const int64_t m = cls.size();
  std::vector<double> s(static_cast<size_t>(m * m));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) s[static_cast<size_t>(i * m + j)] = similarity(kernel, cls.row(i), cls.row(j), cls.d);
  const auto sizes = graphcut_bin_sizes(m, bins);
  ClassBins out(sizes.size());
  std::vector<int64_t> pool(static_cast<size_t>(m));
  std::iota(pool.begin(), pool.end(), 0);
  for (size_t b = 0; b + 1 < sizes.size(); ++b) {
    std::vector<int64_t> bin;
    for (int64_t step = 0; step < sizes[b]; ++step) {
      const double base = graphcut_value(s, m, pool, bin);
      std::vector<std::pair<int64_t, double>> gains;
      for (int64_t x : pool) {
        if (std::find(bin.begin(), bin.end(), x) != bin.end()) continue;
        auto with = bin;
        with.push_back(x);
        gains.emplace_back(x, graphcut_value(s, m, pool, with) - base);
      }
      double top = -INFINITY, scale = std::abs(base);
      for (auto [x, g] : gains) top = std::max(top, g), scale = std::max(scale, std::abs(g));
      for (auto [x, g] : gains)
        if (g >= top - 1e-9 * scale) {
          bin.push_back(x);  // gains are in ascending x: the first within tolerance is the lowest
          break;
        }
    }
    out[b] = bin;
    std::erase_if(pool, [&](int64_t p) { return std::find(bin.begin(), bin.end(), p) != bin.end(); });
  }
  out.back() = pool;
  return out;
}

ClassBins run(const ClassView& cls, int64_t bins, GraphCutKernel kernel, GreedyMode mode, uint64_t budget = 1ull << 32) {
  MemoryBudget memory(budget);
  return generate_graphcut_bins(cls, BinParams{bins, kernel, mode}, memory);
}

std::vector<int64_t> ids_of(int64_t m) {
  std::vector<int64_t> ids(static_cast<size_t>(m));
  std::iota(ids.begin(), ids.end(), 1000);
  return ids;
}

const GreedyMode kModes[] = {GreedyMode::Naive, GreedyMode::Memo, GreedyMode::Streaming};
const GraphCutKernel kKernels[] = {GraphCutKernel::NegSqEuclid, GraphCutKernel::CosineAffine};

}  // namespace

TEST_CASE("GraphCut bin sizes follow round(remaining / bins left), the last bin takes the rest", "[dq]") {
  CHECK(graphcut_bin_sizes(100, 10) == std::vector<int64_t>(10, 10));
  // 25/10 = 2.5 -> 3, 22/9 -> 2, 20/8 = 2.5 -> 3, 17/7 -> 2, 15/6 -> 3, 12/5 -> 2, 10/4 -> 3, 7/3 -> 2, 5/2 -> 3, rest 2
  CHECK(graphcut_bin_sizes(25, 10) == std::vector<int64_t>{3, 2, 3, 2, 3, 2, 3, 2, 3, 2});
  CHECK(graphcut_bin_sizes(5, 10) == std::vector<int64_t>{1, 0, 1, 0, 1, 0, 1, 0, 1, 0});
  CHECK(graphcut_bin_sizes(7, 1) == std::vector<int64_t>{7});
  CHECK(graphcut_bin_sizes(0, 3) == std::vector<int64_t>{0, 0, 0});
}

// Two points tie exactly in every mode and kernel (gain(x) = s(x, x) + s(x, y) for both), so the
// first bin is position 0. Streaming's double evaluation of u_x . (u_0 + u_1) once broke this tie by
// rounding (found when the tests' data generator changed).
TEST_CASE("GraphCut: two points always tie, the lower position goes first in every mode", "[dq]") {
  Rng rng(17);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t d = 1 + trial % 37;
    std::vector<float> z(static_cast<size_t>(2 * d));
    for (auto& v : z) v = static_cast<float>(rng.normal() * (1 + trial % 5));
    const auto ids = ids_of(2);
    const ClassView cls{0, ids, z.data(), d};
    for (auto kernel : kKernels)
      for (auto mode : kModes) {
        INFO("trial " << trial << " d=" << d << " kernel=" << kernel_name(kernel) << " mode=" << mode_name(mode));
        CHECK(run(cls, 2, kernel, mode) == ClassBins{{0}, {1}});
      }
  }
}

TEST_CASE("GraphCut greedy picks equal the set function's greedy evaluated from its definition", "[dq]") {
  struct Case {
    int64_t m, d, bins, clusters;
    uint64_t seed;
    std::vector<std::pair<int64_t, int64_t>> duplicates;
  };
  const std::vector<Case> cases = {
      {60, 8, 4, 3, 1, {}},
      {60, 8, 4, 5, 2, {}},
      {90, 16, 10, 4, 3, {{5, 40}, {5, 77}, {12, 13}, {60, 2}}},
      {41, 3, 3, 2, 4, {{0, 1}, {0, 2}, {0, 3}}},
      {7, 4, 3, 2, 5, {}},
      {2, 4, 2, 1, 6, {}},
      {1, 4, 2, 1, 7, {}},
  };
  for (const auto& c : cases)
    for (auto kernel : kKernels) {
      auto z = test::gaussian_mixture(c.m, c.d, c.clusters, 0.4, c.seed);
      test::make_duplicates(z, c.d, c.duplicates);
      const auto ids = ids_of(c.m);
      const ClassView cls{0, ids, z.data(), c.d};
      const ClassBins expected = reference_bins(cls, c.bins, kernel);
      for (auto mode : kModes) {
        INFO("m=" << c.m << " bins=" << c.bins << " kernel=" << kernel_name(kernel) << " mode=" << mode_name(mode));
        CHECK(run(cls, c.bins, kernel, mode) == expected);
      }
    }
}

TEST_CASE("naive, memo and streaming GraphCut pick identically on larger classes", "[dq]") {
  struct Case {
    int64_t m, d, clusters;
    double spread;
    uint64_t seed;
  };
  for (const auto& c : {Case{1500, 32, 8, 0.3, 11}, Case{1200, 16, 40, 0.05, 12}, Case{800, 64, 1, 1.0, 13}})
    for (auto kernel : kKernels) {
      auto z = test::gaussian_mixture(c.m, c.d, c.clusters, c.spread, c.seed);
      test::make_duplicates(z, c.d, {{3, 500}, {3, 501}, {700, 10}, {100, 101}});
      const auto ids = ids_of(c.m);
      const ClassView cls{0, ids, z.data(), c.d};
      const ClassBins naive = run(cls, 10, kernel, GreedyMode::Naive);
      INFO("m=" << c.m << " kernel=" << kernel_name(kernel));
      CHECK(run(cls, 10, kernel, GreedyMode::Memo) == naive);
      CHECK(run(cls, 10, kernel, GreedyMode::Streaming) == naive);
    }
}

TEST_CASE("GraphCut bins are disjoint, cover the class and have the planned sizes", "[dq]") {
  const int64_t m = 537, d = 12;
  const auto z = test::gaussian_mixture(m, d, 5, 0.5, 21);
  const auto ids = ids_of(m);
  const ClassView cls{0, ids, z.data(), d};
  for (int64_t bins : {1, 2, 7, 10}) {
    const ClassBins out = run(cls, bins, GraphCutKernel::NegSqEuclid, GreedyMode::Streaming);
    const auto sizes = graphcut_bin_sizes(m, bins);
    REQUIRE(out.size() == sizes.size());
    std::vector<int64_t> all;
    for (size_t b = 0; b < out.size(); ++b) {
      CHECK(static_cast<int64_t>(out[b].size()) == sizes[b]);
      all.insert(all.end(), out[b].begin(), out[b].end());
    }
    std::sort(all.begin(), all.end());
    std::vector<int64_t> expected(static_cast<size_t>(m));
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(all == expected);
    CHECK(std::is_sorted(out.back().begin(), out.back().end()));  // the remainder keeps class order
  }
}

TEST_CASE("GraphCut's first pick is the point nearest the class mean (neg_sqeuclid)", "[dq]") {
  // gain(x | {}) = -sum_j ||x - z_j||^2 = -M ||x - mean||^2 + const: worked by hand on a line.
  const std::vector<float> z = {0, 0, 10, 0, 1, 0, 4, 0, 5, 0};  // x = 0, 10, 1, 4, 5; mean 4
  const auto ids = ids_of(5);
  const ClassView cls{0, ids, z.data(), 2};
  for (auto mode : kModes) CHECK(run(cls, 2, GraphCutKernel::NegSqEuclid, mode).front().front() == 3);
}

TEST_CASE("dense GraphCut modes end as OutOfMemory with the matrix bytes; streaming completes", "[dq]") {
  const int64_t m = 300, d = 16;
  const auto z = test::gaussian_mixture(m, d, 4, 0.5, 31);
  const auto ids = ids_of(m);
  const ClassView cls{0, ids, z.data(), d};
  const uint64_t matrix = 4ull * m * m;
  for (auto mode : {GreedyMode::Naive, GreedyMode::Memo}) {
    MemoryBudget memory(matrix - 1);
    try {
      generate_graphcut_bins(cls, BinParams{10, GraphCutKernel::NegSqEuclid, mode}, memory);
      FAIL("expected OutOfMemory");
    } catch (const OutOfMemory& e) {
      CHECK(e.requested_bytes() == matrix);
      CHECK(e.budget_bytes() == matrix - 1);
    }
    CHECK(memory.in_use() == 0);
  }
  const ClassBins streamed = run(cls, 10, GraphCutKernel::NegSqEuclid, GreedyMode::Streaming, matrix / 8);
  CHECK(streamed == run(cls, 10, GraphCutKernel::NegSqEuclid, GreedyMode::Memo));
}

TEST_CASE("at Fakeddit's class size the dense modes ask for 160 GB and stop before allocating", "[dq]") {
  const int64_t m = 200000;  // d = 1 keeps the test small; the matrix does not depend on d
  std::vector<float> z(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) z[static_cast<size_t>(i)] = static_cast<float>(i % 977);
  const auto ids = ids_of(m);
  const ClassView cls{0, ids, z.data(), 1};
  MemoryBudget memory(24ull << 30);
  try {
    generate_graphcut_bins(cls, BinParams{10, GraphCutKernel::NegSqEuclid, GreedyMode::Memo}, memory);
    FAIL("expected OutOfMemory");
  } catch (const OutOfMemory& e) {
    CHECK(e.requested_bytes() == 160000000000ull);
    CHECK(e.buffer() == "GraphCut dense similarity (M x M float32)");
  }
}

TEST_CASE("GraphCut bins are cached per embedding key, class and params", "[dq]") {
  const auto dir = test::scratch_dir("dq_bin_cache");
  const int64_t m = 200, d = 8;
  const auto z = test::gaussian_mixture(m, d, 3, 0.5, 51);
  const auto ids = ids_of(m);
  const ClassView cls{2, ids, z.data(), d};
  MemoryBudget memory(1ull << 30);
  StageTimer timer;
  SelectContext ctx{0.1, 1, memory, timer, {nullptr, dir.string(), "emb-A"}};
  const BinParams params{10, GraphCutKernel::NegSqEuclid, GreedyMode::Memo};

  const BinsResult first = graphcut_bins_for_class(cls, params, ctx);
  CHECK_FALSE(first.from_cache);
  const BinsResult second = graphcut_bins_for_class(cls, params, ctx);
  CHECK(second.from_cache);
  CHECK(second.bins == first.bins);
  REQUIRE(std::find_if(timer.records().begin(), timer.records().end(),
                       [](const StageRecord& r) { return r.name == "bin_generation"; }) != timer.records().end());

  // Another mode or another embedding is another artefact.
  CHECK_FALSE(graphcut_bins_for_class(cls, BinParams{10, GraphCutKernel::NegSqEuclid, GreedyMode::Streaming}, ctx).from_cache);
  ctx.services.embedding_key = "emb-B";
  CHECK_FALSE(graphcut_bins_for_class(cls, params, ctx).from_cache);

  // A hit declares to the budget what generating the bins declared: the declared peak (and an OOM)
  // do not depend on what is cached.
  ctx.services.embedding_key = "emb-A";
  {
    const auto cold_dir = test::scratch_dir("dq_bin_cache_cold");
    MemoryBudget cold_memory(1ull << 30), warm_memory(1ull << 30);
    SelectContext cold{0.1, 1, cold_memory, timer, {nullptr, cold_dir.string(), "emb-A"}};
    SelectContext warm{0.1, 1, warm_memory, timer, {nullptr, cold_dir.string(), "emb-A"}};
    CHECK_FALSE(graphcut_bins_for_class(cls, params, cold).from_cache);
    CHECK(graphcut_bins_for_class(cls, params, warm).from_cache);
    CHECK(cold_memory.peak() >= static_cast<uint64_t>(4 * m * m));
    CHECK(warm_memory.peak() == cold_memory.peak());
    MemoryBudget small((4 * m * m) / 2);
    SelectContext too_small{0.1, 1, small, timer, {nullptr, cold_dir.string(), "emb-A"}};
    CHECK_THROWS_AS(graphcut_bins_for_class(cls, params, too_small), OutOfMemory);
  }

  // A damaged entry is a miss (core/atomic_file.h): rebuilt, replaced, never silently used.
  for (const auto& entry : std::filesystem::directory_iterator(dir / "dq_bins"))
    if (entry.path().extension() == ".json") std::ofstream(entry.path()) << "{\"format\": 1}";
  const BinsResult rebuilt = graphcut_bins_for_class(cls, params, ctx);
  CHECK_FALSE(rebuilt.from_cache);
  CHECK(rebuilt.bins == first.bins);
  CHECK(graphcut_bins_for_class(cls, params, ctx).from_cache);

  // Without an embedding key nothing is written.
  const auto empty_dir = test::scratch_dir("dq_bin_cache_off");
  SelectContext no_key{0.1, 1, memory, timer, {nullptr, empty_dir.string(), ""}};
  CHECK_FALSE(graphcut_bins_for_class(cls, params, no_key).from_cache);
  CHECK(std::filesystem::is_empty(empty_dir));
}
