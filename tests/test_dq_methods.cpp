// DQ as a selection method: exact per-class budgets, per-bin shares, determinism, modes, OOM; and
// the largest-remainder apportioning shared by the DQ family.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"
#include "methods/dq_common.h"
#include "test_dq_data.h"

using namespace dq;

namespace {

std::vector<ClassSelection> select(const std::string& spec, const test::MultiClass& data, double ratio, uint64_t seed,
                                   uint64_t budget = 1ull << 32, StageTimer* timer_out = nullptr) {
  MemoryBudget memory(budget);
  StageTimer timer;
  SelectContext ctx{ratio, seed, memory, timer, {}};
  const auto views = data.views();
  auto out = parse_method_spec(spec, "test").instantiate()->select(views, ctx);
  if (timer_out) *timer_out = timer;
  return out;
}

int64_t expected_count(double ratio, int64_t m, double theta) {
  return std::min<int64_t>(m, std::llround(ratio * static_cast<double>(m) / (1.0 - theta)));
}

}  // namespace

TEST_CASE("apportion: largest remainders, caps with overflow, ties to the lower index", "[dq]") {
  const std::vector<double> w = {0.3125, 0.6875};
  // 3.125 and 6.875 -> floors 3 and 6, the remaining one goes to the larger fraction (.875).
  CHECK(apportion(10, w, std::vector<int64_t>{100, 100}) == std::vector<int64_t>{3, 7});
  // Capped at 2, the overflow goes to the other item.
  CHECK(apportion(10, w, std::vector<int64_t>{2, 100}) == std::vector<int64_t>{2, 8});
  // 4/3 each: floors 1, one extra, equal fractions -> lowest index.
  CHECK(apportion(4, std::vector<double>{1, 1, 1}, std::vector<int64_t>{9, 9, 9}) == std::vector<int64_t>{2, 1, 1});
  // No weight at all: shares by remaining capacity (1.5, 2.5 -> 1, 2, tie on .5 -> index 0).
  CHECK(apportion(4, std::vector<double>{0, 0}, std::vector<int64_t>{3, 5}) == std::vector<int64_t>{2, 2});
  // Cascading caps: 60/20/20 of 10 with caps 3, 2, 100.
  CHECK(apportion(10, std::vector<double>{0.6, 0.2, 0.2}, std::vector<int64_t>{3, 2, 100}) ==
        std::vector<int64_t>{3, 2, 5});
  CHECK(apportion(0, w, std::vector<int64_t>{5, 5}) == std::vector<int64_t>{0, 0});
}

TEST_CASE("DQ takes round(ratio * M / (1 - theta)) per class, split over bins by their sizes", "[dq]") {
  const auto data = test::multi_class({200, 157, 90}, 8, 3);
  for (double theta : {0.25, 0.0, 0.2})
    for (double ratio : {0.05, 0.1, 0.2, 0.3, 0.6}) {
      const auto out = select(fmt::format("dq(mode=memo,theta={})", theta), data, ratio, 7);
      REQUIRE(out.size() == 3);
      for (size_t c = 0; c < 3; ++c) {
        const auto& sel = out[c];
        const auto m = static_cast<int64_t>(data.ids[c].size());
        const int64_t want = expected_count(ratio, m, theta);
        INFO("theta=" << theta << " ratio=" << ratio << " class " << c);
        CHECK(static_cast<int64_t>(sel.ids.size()) == want);
        CHECK(std::set<int64_t>(sel.ids.begin(), sel.ids.end()).size() == sel.ids.size());
        CHECK(std::all_of(sel.keep.begin(), sel.keep.end(), [&](float k) { return k == static_cast<float>(1 - theta); }));
        // Every pick is in the class; the bins partition the class; each bin gives its share +-1.
        const std::set<int64_t> cls(data.ids[c].begin(), data.ids[c].end());
        REQUIRE(sel.bins.size() == 10);
        int64_t covered = 0;
        for (const auto& bin : sel.bins) {
          covered += static_cast<int64_t>(bin.size());
          const std::set<int64_t> members(bin.begin(), bin.end());
          const auto from_bin = std::count_if(sel.ids.begin(), sel.ids.end(), [&](int64_t id) { return members.count(id); });
          const double share = static_cast<double>(want) * static_cast<double>(bin.size()) / static_cast<double>(m);
          CHECK(std::abs(static_cast<double>(from_bin) - share) < 1.0);
        }
        CHECK(covered == m);
        for (int64_t id : sel.ids) CHECK(cls.count(id) == 1);
      }
    }
}

TEST_CASE("DQ draws the same count from equal bins (hand-worked)", "[dq]") {
  // 100 samples, 10 bins of 10; ratio 0.15 with theta 0.25 -> 20 samples -> 2 per bin.
  const auto data = test::multi_class({100}, 4, 9);
  const auto sel = select("dq(mode=streaming)", data, 0.15, 1).front();
  REQUIRE(sel.ids.size() == 20);
  for (size_t b = 0; b < 10; ++b) {
    const std::set<int64_t> members(sel.bins[b].begin(), sel.bins[b].end());
    CHECK(members.count(sel.ids[2 * b]) == 1);  // picks are listed bin by bin
    CHECK(members.count(sel.ids[2 * b + 1]) == 1);
  }
}

TEST_CASE("DQ is deterministic, seed-dependent only in sampling, and identical across modes", "[dq]") {
  const auto data = test::multi_class({300, 250}, 16, 5);
  const auto a = select("dq(mode=memo)", data, 0.2, 42);
  const auto b = select("dq(mode=memo)", data, 0.2, 42);
  const auto other_seed = select("dq(mode=memo)", data, 0.2, 43);
  for (size_t c = 0; c < a.size(); ++c) {
    CHECK(a[c].ids == b[c].ids);
    CHECK(a[c].bins == other_seed[c].bins);  // GraphCut does not depend on the seed
    CHECK(a[c].ids != other_seed[c].ids);
  }
  for (const char* spec : {"dq(mode=naive)", "dq(mode=streaming)"}) {
    const auto other = select(spec, data, 0.2, 42);
    for (size_t c = 0; c < a.size(); ++c) CHECK(other[c].ids == a[c].ids);
  }
  const auto cosine = select("dq(kernel=cosine_affine,mode=streaming)", data, 0.2, 42);
  const auto cosine_naive = select("dq(kernel=cosine_affine)", data, 0.2, 42);
  for (size_t c = 0; c < a.size(); ++c) CHECK(cosine[c].ids == cosine_naive[c].ids);
}

TEST_CASE("DQ records bin_generation and bin_sampling, and ends as OOM in dense modes only", "[dq]") {
  const auto data = test::multi_class({120, 80}, 8, 6);
  StageTimer timer;
  select("dq", data, 0.1, 1, 1ull << 30, &timer);
  std::set<std::string> names;
  for (const auto& r : timer.records()) names.insert(r.name);
  CHECK(names.count("bin_generation") == 1);
  CHECK(names.count("bin_sampling") == 1);

  const uint64_t budget = 4ull * 100 * 100;  // holds the 80-sample class's matrix, not the 120 one
  try {
    select("dq(mode=naive)", data, 0.1, 1, budget);
    FAIL("expected OutOfMemory");
  } catch (const OutOfMemory& e) {
    CHECK(e.requested_bytes() == 4ull * 120 * 120);
  }
  CHECK(select("dq(mode=streaming)", data, 0.1, 1, budget).size() == 2);
}
