#include <catch2/catch.hpp>

#include <numeric>
#include <set>
#include <type_traits>

#include "core/error.h"
#include "methods/class_partition.h"
#include "methods/method.h"

using namespace dq;

namespace {
std::vector<ClassSelection> run_random(const std::vector<int64_t>& labels, int64_t classes, double ratio,
                                       uint64_t seed) {
  ClassPartition p = partition_by_class(nullptr, 0, labels, classes);
  MemoryBudget memory(1 << 20);
  StageTimer timer;
  SelectContext ctx{ratio, seed, memory, timer, {}};
  return parse_method_spec("random", "test").instantiate()->select(p.views, ctx);
}
}  // namespace

TEST_CASE("budget_count rounds half away from zero and accounts for patch dropping", "[random]") {
  CHECK(budget_count(0.1, 5000) == 500);
  CHECK(budget_count(0.2, 5000, 0.25) == 1333);  // 1000 / 0.75 = 1333.3
  CHECK(budget_count(0.5, 5) == 3);               // 2.5 -> 3
  CHECK(budget_count(1.0, 7) == 7);
  CHECK(budget_count(0.9, 10, 0.5) == 10);        // capped at the class size
}

TEST_CASE("random selects exactly round(ratio * M_c) distinct ids of each class", "[random]") {
  // Unequal classes: 0 has 103 samples, 1 has 50, 2 has 7; interleaved ids.
  std::vector<int64_t> labels;
  for (int i = 0; i < 160; ++i) labels.push_back(i < 103 ? 0 : i < 153 ? 1 : 2);
  std::reverse(labels.begin(), labels.end());
  const auto sel = run_random(labels, 3, 0.3, 7);
  REQUIRE(sel.size() == 3);
  const int64_t expect[3] = {31, 15, 2};  // 30.9 -> 31, 15, 2.1 -> 2
  for (int c = 0; c < 3; ++c) {
    CHECK(static_cast<int64_t>(sel[c].ids.size()) == expect[c]);
    CHECK(sel[c].keep == std::vector<float>(sel[c].ids.size(), 1.0f));
    std::set<int64_t> unique(sel[c].ids.begin(), sel[c].ids.end());
    CHECK(unique.size() == sel[c].ids.size());
    for (int64_t id : sel[c].ids) CHECK(labels[static_cast<size_t>(id)] == c);
  }
}

TEST_CASE("random is deterministic per seed and differs across seeds", "[random]") {
  std::vector<int64_t> labels(1000);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i % 4);
  const auto a = run_random(labels, 4, 0.2, 11), b = run_random(labels, 4, 0.2, 11), c = run_random(labels, 4, 0.2, 12);
  for (int k = 0; k < 4; ++k) CHECK(a[k].ids == b[k].ids);
  CHECK(a[0].ids != c[0].ids);
  // Classes get different streams (not the same offsets in each class).
  std::vector<int64_t> first_offsets;
  for (int k = 0; k < 4; ++k) first_offsets.push_back(a[k].ids[0] / 4);
  CHECK(std::set<int64_t>(first_offsets.begin(), first_offsets.end()).size() > 1);
}

TEST_CASE("random at ratio 1 returns the whole class; picks are uniform", "[random]") {
  std::vector<int64_t> labels(20, 0);
  const auto all = run_random(labels, 1, 1.0, 3);
  CHECK(std::set<int64_t>(all[0].ids.begin(), all[0].ids.end()).size() == 20);
  // Each id should be picked ~ ratio of the time over many seeds.
  std::vector<int> hits(20, 0);
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    const auto sel = run_random(labels, 1, 0.25, seed);
    for (int64_t id : sel[0].ids) ++hits[static_cast<size_t>(id)];
  }
  for (int h : hits) CHECK(std::abs(h - 500) < 90);  // 2000 * 5/20 = 500, sd ~19
}

TEST_CASE("method registry finds methods, parses specs and names unknown ones", "[random]") {
  CHECK(MethodRegistry::instance().find("random", "t").name == "random");
  CHECK_THROWS_WITH(MethodRegistry::instance().find("randon", "exp.yaml:4:5"),
                    Catch::Contains("exp.yaml:4:5") && Catch::Contains("unknown method 'randon'") &&
                        Catch::Contains("random"));
  CHECK_THROWS_WITH(parse_method_spec("random(k=3)", "w"), Catch::Contains("unknown parameter 'k'"));
  CHECK(parse_method_spec(" random ", "w").canonical() == "random");
}

TEST_CASE("a class partition moves with its views valid and cannot be copied", "[random][partition]") {
  static_assert(!std::is_copy_constructible_v<ClassPartition> && !std::is_copy_assignable_v<ClassPartition>,
                "a copy's views would point into the original");
  static_assert(std::is_nothrow_move_constructible_v<ClassPartition> && std::is_nothrow_move_assignable_v<ClassPartition>);
  const std::vector<int64_t> labels = {1, 0, 1, 2, 1};
  const std::vector<float> z = {0, 10, 1, 11, 2, 12, 3, 13, 4, 14};  // row i = (i, 10 + i)
  ClassPartition original = partition_by_class(z.data(), 2, labels, 3);
  const int64_t* ids_before = original.views[1].ids.data();
  ClassPartition moved(std::move(original));
  ClassPartition assigned;
  assigned = std::move(moved);
  REQUIRE(assigned.views.size() == 3);
  const ClassView& one = assigned.views[1];
  CHECK(one.ids.data() == ids_before);  // the same storage, not a copy
  CHECK(one.ids.data() == assigned.ids[1].data());
  CHECK(one.z == assigned.z[1].data());
  CHECK(std::vector<int64_t>(one.ids.begin(), one.ids.end()) == std::vector<int64_t>{0, 2, 4});
  CHECK(one.row(2)[0] == 4.0f);
  CHECK(one.row(2)[1] == 14.0f);
}
