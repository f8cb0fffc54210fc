// Selection metrics against a hand-worked case and against brute force.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <numeric>

#include "methods/knn/search.h"
#include "methods/metrics.h"
#include "tests/test_bgfdq_data.h"

using namespace dq;

TEST_CASE("metrics on a hand-worked one-dimensional class", "[metrics]") {
  // Points 0, 1, 3, 7 (ids 10..13); picks 0 and 7 with keep 0.75.
  const std::vector<float> z = {0, 1, 3, 7};
  const std::vector<int64_t> ids = {10, 11, 12, 13};
  const std::vector<ClassView> classes = {ClassView{0, ids, z.data(), 1}};
  ClassSelection s;
  s.ids = {13, 10};
  s.keep = {0.75f, 0.75f};
  MemoryBudget memory(1 << 30);
  const auto m = selection_metrics(classes, std::vector<ClassSelection>{s}, memory);
  // Nearest selected: 0, 1, 9, 0. Coverage = 9, mean = 2.5; the picks are 49 apart.
  REQUIRE(m.at("coverage_mean") == 9);
  REQUIRE(m.at("coverage_max") == 9);
  REQUIRE(m.at("nearest_selected_mean") == 2.5);
  REQUIRE(m.at("redundancy_mean") == 49);
  REQUIRE(m.at("redundancy_min") == 49);
  REQUIRE(m.at("selected_nn_mean") == 49);
  REQUIRE(m.at("realised_sample_ratio") == 0.5);
  REQUIRE(m.at("realised_storage_ratio") == 0.375);
  REQUIRE(m.at("classes_without_selection") == 0);
}

TEST_CASE("metrics equal brute force over several classes, with duplicates", "[metrics]") {
  dq::test::Points p = dq::test::clustered_points(700, 12, 5, 2.0, 3);
  dq::test::copy_row(p, 10, 11);  // two duplicates, both picked below: redundancy 0 in class 0
  std::vector<int64_t> ids(700);
  std::iota(ids.begin(), ids.end(), 0);
  const std::vector<ClassView> classes = {ClassView{0, std::span<const int64_t>(ids.data(), 400), p.z.data(), 12},
                                          ClassView{1, std::span<const int64_t>(ids.data() + 400, 250), p.row(400), 12},
                                          ClassView{2, std::span<const int64_t>(ids.data() + 650, 50), p.row(650), 12}};
  std::vector<ClassSelection> sel(3);
  sel[0].ids = {10, 11, 50, 399, 7};
  sel[1].ids = {400, 649, 500};
  sel[2].ids = {};  // nothing picked: no coverage, no redundancy
  for (auto& s : sel) s.keep.assign(s.ids.size(), 0.8f);
  MemoryBudget memory(1 << 30);
  const auto m = selection_metrics(classes, sel, memory);

  double cov_sum = 0, cov_max = 0, near_sum = 0, red_sum = 0, red_min = std::numeric_limits<double>::infinity(), nn_sum = 0;
  int64_t near_n = 0, nn_n = 0;
  for (size_t c = 0; c < 2; ++c) {
    double cmax = 0;
    for (int64_t x : classes[c].ids) {
      double best = std::numeric_limits<double>::infinity();
      for (int64_t s : sel[c].ids) best = std::min(best, exact_sqdist(p.row(x), p.row(s), 12));
      cmax = std::max(cmax, best);
      near_sum += static_cast<float>(best);
      ++near_n;
    }
    cov_sum += cmax;
    cov_max = std::max(cov_max, cmax);
    double cmin = std::numeric_limits<double>::infinity();
    for (size_t a = 0; a < sel[c].ids.size(); ++a) {
      double best = std::numeric_limits<double>::infinity();
      for (size_t b = 0; b < sel[c].ids.size(); ++b)
        if (a != b) best = std::min(best, exact_sqdist(p.row(sel[c].ids[a]), p.row(sel[c].ids[b]), 12));
      cmin = std::min(cmin, best);
      nn_sum += static_cast<float>(best);
      ++nn_n;
    }
    red_sum += cmin;
    red_min = std::min(red_min, cmin);
  }
  // Distances pass through float lists, hence the float-level tolerance.
  REQUIRE(m.at("coverage_mean") == Approx(cov_sum / 2).epsilon(1e-6));
  REQUIRE(m.at("coverage_max") == Approx(cov_max).epsilon(1e-6));
  REQUIRE(m.at("nearest_selected_mean") == Approx(near_sum / static_cast<double>(near_n)).epsilon(1e-6));
  REQUIRE(m.at("redundancy_min") == 0);
  REQUIRE(m.at("redundancy_mean") == Approx(red_sum / 2).epsilon(1e-6));
  REQUIRE(m.at("selected_nn_mean") == Approx(nn_sum / static_cast<double>(nn_n)).epsilon(1e-6));
  REQUIRE(m.at("classes_without_selection") == 1);
  REQUIRE(m.at("realised_sample_ratio") == Approx(8.0 / 700));
  REQUIRE(m.at("realised_storage_ratio") == Approx(8 * 0.8 / 700).epsilon(1e-6));
}

TEST_CASE("a summary over nothing is left out, never NaN", "[metrics][hygiene]") {
  // One pick per class: coverage is defined, redundancy (needs two picks) is not.
  const std::vector<float> z = {0, 1, 3, 7};
  const std::vector<int64_t> ids = {0, 1, 2, 3};
  const std::vector<ClassView> classes = {ClassView{0, std::span<const int64_t>(ids.data(), 2), z.data(), 1},
                                          ClassView{1, std::span<const int64_t>(ids.data() + 2, 2), z.data() + 2, 1}};
  std::vector<ClassSelection> sel(2);
  sel[0].ids = {1};
  sel[1].ids = {2};
  for (auto& s : sel) s.keep = {1.0f};
  MemoryBudget memory(1 << 30);
  const auto m = selection_metrics(classes, sel, memory);
  CHECK(m.at("coverage_max") == 16);  // 7 is 4 from 3
  CHECK(m.count("redundancy_mean") == 0);
  CHECK(m.count("redundancy_min") == 0);
  CHECK(m.count("selected_nn_mean") == 0);
  for (const auto& [k, v] : m) CHECK(std::isfinite(v));
  sel[0].ids.clear();
  sel[0].keep.clear();
  sel[1].ids.clear();
  sel[1].keep.clear();
  const auto none = selection_metrics(classes, sel, memory);
  CHECK(none.count("coverage_mean") == 0);
  CHECK(none.at("classes_without_selection") == 2);
  for (const auto& [k, v] : none) CHECK(std::isfinite(v));
}
