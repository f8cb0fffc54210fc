// DQAS-approx: the total budget is exact, budget moves toward classes the proxy finds hard, draws
// go round-robin over bins, the proxies classify as they should, and bins come first (OOM).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "core/error.h"
#include "methods/dq_common.h"
#include "methods/dqas_proxy.h"
#include "test_dq_data.h"

using namespace dq;

namespace {

std::vector<ClassSelection> run_dqas(const std::string& spec, const test::MultiClass& data, double ratio,
                                     uint64_t seed = 3, uint64_t budget = 1ull << 32) {
  MemoryBudget memory(budget);
  StageTimer timer;
  SelectContext ctx{ratio, seed, memory, timer, {}};
  const auto views = data.views();
  return parse_method_spec(spec, "test").instantiate()->select(views, ctx);
}

int64_t equal_budget(double ratio, int64_t m) { return std::llround(ratio * static_cast<double>(m) / 0.75); }

// Class 0: a tight cluster far from the others (easy). Classes 1 and 2: the same wide cloud
// (hard to tell apart).
test::MultiClass easy_and_hard(int64_t m, int64_t d) {
  test::MultiClass mc;
  mc.d = d;
  for (int c = 0; c < 3; ++c) {
    Rng rng(derive_seed(99, static_cast<uint64_t>(c)));
    std::vector<float> z(static_cast<size_t>(m * d));
    for (int64_t i = 0; i < m * d; ++i)
      z[static_cast<size_t>(i)] = c == 0 ? static_cast<float>(20.0 + 0.1 * rng.normal()) : static_cast<float>(rng.normal());
    mc.z.push_back(std::move(z));
    std::vector<int64_t> ids(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) ids[static_cast<size_t>(i)] = i * 3 + c;
    mc.ids.push_back(std::move(ids));
  }
  return mc;
}

}  // namespace

TEST_CASE("DQAS-approx selects exactly the total budget, within classes, without repeats", "[dq]") {
  const auto data = test::multi_class({200, 160, 120, 90}, 8, 31);
  for (const char* spec : {"dqas_approx(mode=memo)", "dqas_approx(mode=streaming,proxy=logreg,rounds=3)"})
    for (double ratio : {0.05, 0.2, 0.5}) {
      const auto out = run_dqas(spec, data, ratio);
      int64_t total = 0, want = 0;
      for (size_t c = 0; c < out.size(); ++c) {
        const auto& sel = out[c];
        const auto m = static_cast<int64_t>(data.ids[c].size());
        want += equal_budget(ratio, m);
        total += static_cast<int64_t>(sel.ids.size());
        const std::set<int64_t> cls(data.ids[c].begin(), data.ids[c].end());
        CHECK(std::set<int64_t>(sel.ids.begin(), sel.ids.end()).size() == sel.ids.size());
        CHECK(std::all_of(sel.ids.begin(), sel.ids.end(), [&](int64_t id) { return cls.count(id) == 1; }));
        CHECK(sel.keep == std::vector<float>(sel.ids.size(), 0.75f));
        // Validation samples are never selected.
        CHECK(static_cast<int64_t>(sel.ids.size()) <= m - static_cast<int64_t>(sel.diagnostics.at("dqas_validation_size")));
      }
      INFO(spec << " ratio " << ratio);
      CHECK(total == want);
    }
}

TEST_CASE("DQAS-approx moves budget from an easy class to hard ones", "[dq]") {
  const auto data = easy_and_hard(200, 8);
  const double ratio = 0.2;
  const int64_t equal = equal_budget(ratio, 200);  // 53 each, 159 in all
  const auto out = run_dqas("dqas_approx(mode=memo)", data, ratio);
  CHECK(out[0].diagnostics.at("dqas_last_validation_error") == 0.0);
  CHECK(static_cast<int64_t>(out[0].ids.size()) < equal);
  CHECK(static_cast<int64_t>(out[1].ids.size()) > equal);
  CHECK(static_cast<int64_t>(out[2].ids.size()) > equal);
  // The easy class keeps its equal initial share (beta * total / 3 = 26.5 -> 27, 26 or so) plus the
  // 5%-of-mean floor of each round.
  CHECK(out[0].ids.size() >= 26);
}

TEST_CASE("DQAS-approx draws round-robin over a class's bins and is deterministic", "[dq]") {
  const auto data = test::multi_class({300}, 6, 32);
  const auto a = run_dqas("dqas_approx(mode=memo)", data, 0.3, 5);
  const auto b = run_dqas("dqas_approx(mode=memo)", data, 0.3, 5);
  const auto c = run_dqas("dqas_approx(mode=memo)", data, 0.3, 6);
  CHECK(a[0].ids == b[0].ids);
  CHECK(a[0].ids != c[0].ids);
  // One class: all 120 samples; the first 10 come from bins 0..9 in order.
  REQUIRE(a[0].ids.size() == 120);
  for (size_t k = 0; k < 10; ++k) {
    const auto& bin = a[0].bins[k];
    CHECK(std::find(bin.begin(), bin.end(), a[0].ids[k]) != bin.end());
  }
}

TEST_CASE("DQAS-approx builds bins first: dense modes end as OOM", "[dq]") {
  const auto data = test::multi_class({100, 100}, 6, 33);
  CHECK_THROWS_AS(run_dqas("dqas_approx", data, 0.1, 1, 4ull * 100 * 100 - 1), OutOfMemory);
  CHECK(run_dqas("dqas_approx(mode=streaming)", data, 0.1, 1, 4ull * 100 * 100 - 1).size() == 2);
}

TEST_CASE("DQAS proxies: nearest class mean (hand-worked) and logistic regression", "[dq]") {
  // 1-D: class 0 at 0 and 2 (mean 1), class 1 at 10; class 2 has no training rows.
  const std::vector<float> train = {0, 2, 10};
  const std::vector<const float*> rows = {&train[0], &train[1], &train[2]};
  const std::vector<int32_t> classes = {0, 0, 1};
  MemoryBudget memory(1ull << 30);
  auto ncm = make_dqas_proxy("ncm");
  ncm->fit(rows, classes, 1, 3, memory);
  const std::vector<float> probe = {5.4f, 5.6f, 100.0f};
  CHECK(ncm->predict(&probe[0]) == 0);  // |5.4 - 1| < |5.4 - 10|
  CHECK(ncm->predict(&probe[1]) == 1);
  CHECK(ncm->predict(&probe[2]) == 1);  // class 2 is never predicted
  // Per-class error: class 0 validation {5.6} wrong, class 1 {5.4 wrong, 100 right}, class 2 none.
  const auto error = per_class_error(*ncm, {{&probe[1]}, {&probe[0], &probe[2]}, {}});
  CHECK(error == std::vector<double>{1.0, 0.5, 0.0});

  // Logistic regression separates three well-separated blobs.
  const auto data = test::multi_class({60, 60, 60}, 5, 34, 1, 0.2);
  std::vector<const float*> xr, val0, val1, val2;
  std::vector<int32_t> xc;
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 60; ++i) {
      const float* r = data.z[c].data() + i * 5;
      if (i < 40) xr.push_back(r), xc.push_back(c);
      else (c == 0 ? val0 : c == 1 ? val1 : val2).push_back(r);
    }
  auto logreg = make_dqas_proxy("logreg");
  logreg->fit(xr, xc, 5, 3, memory);
  CHECK(per_class_error(*logreg, {val0, val1, val2}) == std::vector<double>{0.0, 0.0, 0.0});
  CHECK_THROWS_AS(make_dqas_proxy("svm"), Error);
}
