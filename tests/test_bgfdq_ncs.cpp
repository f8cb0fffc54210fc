// Neighbour-aware coreset selection and the registered bgfdq method: reduction to Random, removal
// probabilities on a hand-worked case, refills, budgets, determinism.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "core/rng.h"
#include "methods/method.h"
#include "methods/ncs.h"
#include "tests/test_bgfdq_data.h"

using namespace dq;

namespace {

// Every sample's neighbours are all the others, in a fixed rotation: sample x lists x+1, x+2, ...
NeighbourLists all_others(int64_t m) {
  NeighbourLists l;
  l.n = m;
  l.k = m - 1;
  for (int64_t x = 0; x < m; ++x)
    for (int64_t t = 1; t < m; ++t) {
      l.ids.push_back(static_cast<int32_t>((x + t) % m));
      l.dist.push_back(static_cast<float>(t));
    }
  return l;
}

struct Run {
  std::vector<ClassSelection> selections;
};

Run run_method(const std::string& spec, std::span<const ClassView> classes, double ratio, uint64_t seed) {
  MemoryBudget memory(4ull << 30);
  StageTimer timer;
  SelectContext ctx{ratio, seed, memory, timer, {}};
  auto method = parse_method_spec(spec, "test").instantiate();
  return Run{method->select(classes, ctx)};
}

// Classes 3 (rows 0..999) and 9 (rows 1000..1036) of 1,037 clustered 8-d points.
struct TwoClasses {
  dq::test::Points p = dq::test::clustered_points(1037, 8, 4, 0.0, 8);
  std::vector<int64_t> ids = [] {
    std::vector<int64_t> v(1037);
    std::iota(v.begin(), v.end(), 0);
    return v;
  }();
  std::vector<ClassView> classes = {ClassView{3, std::span<const int64_t>(ids.data(), 1000), p.z.data(), 8},
                                    ClassView{9, std::span<const int64_t>(ids.data() + 1000, 37), p.z.data() + 1000 * 8, 8}};
  TwoClasses() = default;
  TwoClasses(const TwoClasses&) = delete;
};

// Picks are distinct members of their class.
void require_distinct_members(const Run& r, const std::vector<ClassView>& classes) {
  for (size_t c = 0; c < classes.size(); ++c) {
    std::set<int64_t> unique(r.selections[c].ids.begin(), r.selections[c].ids.end());
    REQUIRE(unique.size() == r.selections[c].ids.size());
    for (int64_t id : unique) REQUIRE(std::find(classes[c].ids.begin(), classes[c].ids.end(), id) != classes[c].ids.end());
  }
}

}  // namespace

TEST_CASE("removal probability is exp(-ratio * alpha * rank)", "[bgfdq]") {
  REQUIRE(ncs_removal_probability(0.2, 1.0, 1) == Approx(0.8187307531));
  REQUIRE(ncs_removal_probability(0.01, 2.0, 20) == Approx(std::exp(-0.4)));
  REQUIRE(ncs_removal_probability(0.2, 1e9, 1) == 0.0);
}

TEST_CASE("NCS removes neighbour k with probability exp(-ratio*alpha*k): hand-worked first pick", "[bgfdq]") {
  // 21 samples, each listing the other 20; one pick. Every neighbour is still in the pool, so the
  // removals are 20 independent draws. ratio 0.2, alpha 1: expected sum_{k=1..20} e^{-0.2k} = 4.4337
  // (spec table: 4.4), and rank k goes with probability e^{-0.2k}.
  const NeighbourLists lists = all_others(21);
  const int trials = 20000;
  std::vector<int64_t> removed_at_rank(20, 0);
  int64_t total = 0;
  for (int s = 0; s < trials; ++s) {
    const NcsResult r = neighbour_aware_selection(lists, 1, 0.2, 1.0, static_cast<uint64_t>(s));
    total += r.removals;
    REQUIRE(r.refills == 0);
    // Which ranks went: replay the documented removal stream (one draw per neighbour in the pool,
    // by rank), and check that the replay agrees with the count NCS reports.
    Rng removal(derive_seed(static_cast<uint64_t>(s), "ncs-removals"));
    int64_t replayed = 0;
    for (int k = 1; k <= 20; ++k) {
      const bool gone = removal.uniform01() < std::exp(-0.2 * k);
      removed_at_rank[static_cast<size_t>(k - 1)] += gone;
      replayed += gone;
    }
    REQUIRE(replayed == r.removals);
  }
  const double expected = std::exp(-0.2) * (1 - std::exp(-4.0)) / (1 - std::exp(-0.2));
  REQUIRE(expected == Approx(4.4337).epsilon(1e-4));
  double variance = 0;
  for (int k = 1; k <= 20; ++k) variance += std::exp(-0.2 * k) * (1 - std::exp(-0.2 * k));
  const double sigma_mean = std::sqrt(variance / trials);
  REQUIRE(std::abs(static_cast<double>(total) / trials - expected) < 4 * sigma_mean);
  for (int k = 1; k <= 20; ++k) {
    const double p = std::exp(-0.2 * k);
    REQUIRE(std::abs(static_cast<double>(removed_at_rank[static_cast<size_t>(k - 1)]) / trials - p) <
            4 * std::sqrt(p * (1 - p) / trials));
  }
}

TEST_CASE("NCS with certain removal refills the pool from removed samples", "[bgfdq]") {
  // alpha = 0 -> every neighbour in the pool goes. With 6 samples that all list each other, each
  // pick empties the pool: removals 5 + 4 + 3 + 2 + 1, and a refill before each of picks 2..6.
  const NcsResult r = neighbour_aware_selection(all_others(6), 6, 0.5, 0.0, 99);
  REQUIRE(r.removals == 15);
  REQUIRE(r.refills == 5);
  std::set<int64_t> unique(r.picks.begin(), r.picks.end());
  REQUIRE(unique.size() == 6);
}

TEST_CASE("NCS with a huge alpha is Random: same picks for the same seed, no removals", "[bgfdq]") {
  const dq::test::Points p = dq::test::clustered_points(900, 16, 6, 0.0, 5);
  std::vector<int64_t> ids(900);
  std::iota(ids.begin(), ids.end(), 0);
  std::vector<ClassView> classes = {ClassView{0, std::span<const int64_t>(ids.data(), 500), p.z.data(), 16},
                                    ClassView{1, std::span<const int64_t>(ids.data() + 500, 400), p.z.data() + 500 * 16, 16}};
  for (double ratio : {0.05, 0.3, 1.0}) {
    const Run random = run_method("random", classes, ratio, 1234);
    const Run ncs = run_method("bgfdq(alpha=1e9,theta=0)", classes, ratio, 1234);
    for (size_t c = 0; c < 2; ++c) {
      REQUIRE(ncs.selections[c].ids == random.selections[c].ids);
      REQUIRE(ncs.selections[c].diagnostics.at("removals") == 0);
      REQUIRE(ncs.selections[c].diagnostics.at("refills") == 0);
    }
  }
}

TEST_CASE("bgfdq budgets: round(ratio * M_c / (1 - theta)) per class, keep 1 - theta", "[bgfdq]") {
  const TwoClasses data;
  const std::vector<ClassView>& classes = data.classes;
  // 0.2 * 1000 / 0.75 = 266.67 -> 267; 0.2 * 37 / 0.75 = 9.87 -> 10.
  const Run r = run_method("bgfdq", classes, 0.2, 7);
  REQUIRE(r.selections[0].ids.size() == 267);
  REQUIRE(r.selections[1].ids.size() == 10);
  // theta = 0.5, ratio 0.1: 200 and 7.4 -> 7.
  const Run half = run_method("bgfdq(theta=0.5)", classes, 0.1, 7);
  REQUIRE(half.selections[0].ids.size() == 200);
  REQUIRE(half.selections[1].ids.size() == 7);
  for (const auto& s : half.selections)
    for (float w : s.keep) REQUIRE(w == 0.5f);
  require_distinct_members(r, classes);
  // Diagnostics of the NI stage ride along.
  REQUIRE(r.selections[0].diagnostics.at("lambda_c_exact") == 1);
  REQUIRE(r.selections[0].diagnostics.at("lambda_c") > 0);
}

TEST_CASE("bgfdq is deterministic and depends on the seed", "[bgfdq]") {
  const dq::test::Points p = dq::test::clustered_points(600, 8, 5, 0.0, 12);
  std::vector<int64_t> ids(600);
  std::iota(ids.begin(), ids.end(), 0);
  std::vector<ClassView> classes = {ClassView{0, ids, p.z.data(), 8}};
  const Run a = run_method("bgfdq(k=10,alpha=2)", classes, 0.1, 5);
  const Run b = run_method("bgfdq(k=10,alpha=2)", classes, 0.1, 5);
  const Run c = run_method("bgfdq(k=10,alpha=2)", classes, 0.1, 6);
  REQUIRE(a.selections[0].ids == b.selections[0].ids);
  REQUIRE(a.selections[0].ids != c.selections[0].ids);
}

TEST_CASE("NCS avoids picking duplicates that Random picks", "[bgfdq]") {
  // 100 originals, each copied 4 times (500 samples). Each sample's 4 copies are its nearest
  // neighbours at distance 0, so NCS removes them with high probability once one is picked.
  dq::test::Points p = dq::test::clustered_points(500, 8, 3, 0.0, 77);
  for (int64_t i = 100; i < 500; ++i) dq::test::copy_row(p, i % 100, i);
  std::vector<int64_t> ids(500);
  std::iota(ids.begin(), ids.end(), 0);
  std::vector<ClassView> classes = {ClassView{0, ids, p.z.data(), 8}};
  int64_t random_repeats = 0, ncs_repeats = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto repeats = [](const ClassSelection& s) {
      std::set<int64_t> originals;
      for (int64_t id : s.ids) originals.insert(id % 100);
      return static_cast<int64_t>(s.ids.size() - originals.size());
    };
    random_repeats += repeats(run_method("random", classes, 0.1, seed).selections[0]);
    ncs_repeats += repeats(run_method("bgfdq(theta=0,k=8,alpha=0.1)", classes, 0.1, seed).selections[0]);
  }
  // Random: 50 picks from 100 groups of 5 repeat a group ~9 times per run. NCS with alpha 0.1 removes
  // each copy with probability >= e^-0.04, so a repeat needs a surviving copy: rare.
  REQUIRE(random_repeats > 100);
  REQUIRE(ncs_repeats * 5 < random_repeats);
}

TEST_CASE("bgfdq with clustered neighbours records recall and an approximate lambda_C", "[bgfdq]") {
  const dq::test::Points p = dq::test::clustered_points(2000, 16, 8, 0.0, 14);
  std::vector<int64_t> ids(2000);
  std::iota(ids.begin(), ids.end(), 0);
  std::vector<ClassView> classes = {ClassView{0, ids, p.z.data(), 16}};
  const Run r = run_method("bgfdq(knn=clustered,nlist=30,nprobe=5,recall_sample=300)", classes, 0.1, 1);
  const auto& diag = r.selections[0].diagnostics;
  REQUIRE(diag.at("lambda_c_exact") == 0);
  REQUIRE(diag.at("knn_recall_at_k") > 0.9);
  REQUIRE(diag.at("knn_recall_at_k") <= 1.0);
  REQUIRE(r.selections[0].ids.size() == 267);  // 0.1 * 2000 / 0.75 = 266.67
}

TEST_CASE("exact lists on demand are the exact graph's rows, in any batches", "[bgfdq]") {
  // Ties (a grid of few levels), copies of one row (groups larger than k) and plain clustered rows.
  dq::test::Points grid = dq::test::grid_points(700, 6, 3, 4);
  dq::test::Points dup = dq::test::clustered_points(600, 24, 5, 0.0, 3);
  for (int64_t i = 100; i < 160; ++i) dq::test::copy_row(dup, 7, i);
  for (const dq::test::Points* p : {&grid, &dup}) {
    MemoryBudget memory(4ull << 30);
    const SelfKnnResult whole = exact_self_knn(p->matrix(), 50, {20}, memory);
    ExactListsOnDemand search(p->matrix(), ExactSearchOptions{.k = 20}, memory);
    // Rows in a scrambled order, asked for in batches of 1, 7 and 64.
    std::vector<int64_t> rows(static_cast<size_t>(p->n));
    std::iota(rows.begin(), rows.end(), 0);
    Rng rng(9);
    for (size_t i = rows.size(); i > 1; --i) std::swap(rows[i - 1], rows[static_cast<size_t>(rng.uniform_below(i))]);
    for (const int64_t batch : {1, 7, 64}) {
      for (size_t s = 0; s < rows.size(); s += static_cast<size_t>(batch)) {
        const std::span<const int64_t> some(rows.data() + s, std::min(rows.size() - s, static_cast<size_t>(batch)));
        const NeighbourLists got = search.lists_of(some, memory);
        REQUIRE(got.n == static_cast<int64_t>(some.size()));
        for (size_t q = 0; q < some.size(); ++q) {
          INFO("row " << some[q] << ", batch " << batch);
          for (int64_t t = 0; t < 20; ++t) {
            REQUIRE(got.ids_of(static_cast<int64_t>(q))[t] == whole.lists.ids_of(some[q])[t]);
            REQUIRE(got.dist[static_cast<size_t>(static_cast<int64_t>(q) * 20 + t)] ==
                    whole.lists.dist[static_cast<size_t>(some[q] * 20 + t)]);
          }
        }
      }
    }
    REQUIRE(search.rows_listed() == 3 * p->n);
  }
}

TEST_CASE("NCS on demand: uniform picks from the pool in a seeded order, lists asked for only ahead of picks",
          "[bgfdq]") {
  const NeighbourLists lists = all_others(60);
  int64_t asked = 0;
  auto from_lists = [&](const NeighbourLists& l) {
    return NeighboursOfRows([&l, &asked](std::span<const int64_t> rows) {
      NeighbourLists out{static_cast<int64_t>(rows.size()), l.k, {}, {}};
      for (const int64_t r : rows) {
        out.ids.insert(out.ids.end(), l.ids_of(r), l.ids_of(r) + l.k);
        out.dist.insert(out.dist.end(), l.dist.begin() + r * l.k, l.dist.begin() + (r + 1) * l.k);
      }
      asked += static_cast<int64_t>(rows.size());
      return out;
    });
  };
  SECTION("the batch size changes what is asked for, never the picks") {
    const NcsResult one = neighbour_aware_selection_on_demand(60, 59, from_lists(lists), 20, 0.2, 1.0, 5, 1);
    REQUIRE(one.rows_listed == 20);  // one row at a time: exactly the picks
    REQUIRE(asked == 20);
    for (const int64_t batch : {3, 16, 100}) {
      const NcsResult r = neighbour_aware_selection_on_demand(60, 59, from_lists(lists), 20, 0.2, 1.0, 5, batch);
      REQUIRE(r.picks == one.picks);
      REQUIRE(r.removals == one.removals);
      REQUIRE(r.rows_listed >= 20);
      REQUIRE(r.rows_listed <= 60);
    }
  }
  SECTION("without removals the picks are the seeded shuffle's first rows, and seeds differ") {
    const NcsResult a = neighbour_aware_selection_on_demand(60, 59, from_lists(lists), 30, 0.2, 1e9, 11, 8);
    REQUIRE(a.removals == 0);
    Rng order(derive_seed(11, "ncs-pick-order"));
    std::vector<int64_t> shuffled(60);
    std::iota(shuffled.begin(), shuffled.end(), 0);
    for (size_t i = shuffled.size(); i > 1; --i) std::swap(shuffled[i - 1], shuffled[static_cast<size_t>(order.uniform_below(i))]);
    REQUIRE(a.picks == std::vector<int64_t>(shuffled.begin(), shuffled.begin() + 30));
    REQUIRE(neighbour_aware_selection_on_demand(60, 59, from_lists(lists), 30, 0.2, 1e9, 12, 8).picks != a.picks);
  }
  SECTION("certain removal refills the pool, as the other form does") {
    const NeighbourLists six = all_others(6);
    const NcsResult r = neighbour_aware_selection_on_demand(6, 5, from_lists(six), 6, 0.5, 0.0, 99, 4);
    REQUIRE(r.removals == 15);
    REQUIRE(r.refills == 5);
    REQUIRE(std::set<int64_t>(r.picks.begin(), r.picks.end()).size() == 6);
  }
  SECTION("the first pick is uniform over the class") {
    std::vector<int64_t> first(10, 0);
    const NeighbourLists ten = all_others(10);
    for (uint64_t seed = 0; seed < 5000; ++seed)
      ++first[static_cast<size_t>(neighbour_aware_selection_on_demand(10, 9, from_lists(ten), 1, 0.2, 1.0, seed, 2).picks[0])];
    for (const int64_t c : first) REQUIRE(std::abs(static_cast<double>(c) - 500.0) < 4 * std::sqrt(500.0 * 0.9));
  }
}

TEST_CASE("bgfdq(ni=lazy): the budget from the picks' exact lists, fewer rows listed, refusals", "[bgfdq]") {
  const TwoClasses data;
  const std::vector<ClassView>& classes = data.classes;
  const dq::test::Points& p = data.p;
  const Run r = run_method("bgfdq(ni=lazy)", classes, 0.2, 7);
  REQUIRE(r.selections[0].ids.size() == 267);  // the same budget as ni=graph
  REQUIRE(r.selections[1].ids.size() == 10);
  require_distinct_members(r, classes);
  const auto& diag = r.selections[0].diagnostics;
  REQUIRE(diag.at("ni_rows_listed") >= 267);
  REQUIRE(diag.at("ni_rows_listed") < 1000);
  REQUIRE(diag.at("knn_exact") == 1);
  REQUIRE(run_method("bgfdq(ni=lazy)", classes, 0.2, 7).selections[0].ids == r.selections[0].ids);  // deterministic
  // The same selection as NCS on demand over the exact graph's lists (what ni=lazy claims to compute).
  MemoryBudget memory(4ull << 30);
  const SelfKnnResult whole = exact_self_knn(RowMatrix{p.z.data(), 1000, 8}, 50, {20}, memory);
  const NcsResult replay = neighbour_aware_selection_on_demand(
      1000, 20,
      [&](std::span<const int64_t> rows) {
        NeighbourLists out{static_cast<int64_t>(rows.size()), 20, {}, {}};
        for (const int64_t row : rows) {
          out.ids.insert(out.ids.end(), whole.lists.ids_of(row), whole.lists.ids_of(row) + 20);
          out.dist.insert(out.dist.end(), whole.lists.dist.begin() + row * 20, whole.lists.dist.begin() + (row + 1) * 20);
        }
        return out;
      },
      267, 0.2, 1.0, derive_seed(7, uint64_t{3}), 128);  // the per-class seed (method.cpp)
  REQUIRE(replay.picks == r.selections[0].ids);         // class 3's ids are its rows 0..999
  CHECK_THROWS_WITH(run_method("bgfdq(ni=lazy,spd=on)", classes, 0.2, 7), Catch::Contains("ni=lazy") && Catch::Contains("spd=on"));
  CHECK_THROWS_WITH(run_method("bgfdq(ni=lazy,knn=clustered)", classes, 0.2, 7), Catch::Contains("knn=clustered"));
  REQUIRE(parse_method_spec("bgfdq(ni=lazy)", "test").canonical().find("ni=lazy") != std::string::npos);
  REQUIRE(parse_method_spec("bgfdq", "test").canonical().find("ni=") == std::string::npos);  // omitted at its default
}
