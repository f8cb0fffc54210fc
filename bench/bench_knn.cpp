// Neighbour identification cost against class size M (d = 512), and BGFDQ side by side with exact and
// approximate neighbours on 10 classes x 5,000, on every distribution of the zoo (bench/bench_zoo.h:
// the last argument of every row is the member, named in its label; real embeddings join with
// DQ_BENCH_EMBEDDINGS / DQ_BENCH_LABELS). Each row reports time and recall@20.
//   ./build/dq_bench --benchmark_filter='Ni|Bgfdq'
// Exact search is O(M^2 d); the clustered search is about nprobe/nlist of it with nlist = sqrt(M), so
// O(M^1.5 d). Timings are wall-clock on whatever else the machine is running: compare side by side.
// Issue 14's side-by-side runs (each times its contenders alternately in one process and reports
// ratios; a run whose contenders disagree on the result fails):
//   ./build/dq_bench --benchmark_filter='Symmetric|AutoCrossover|KSweep|TenClasses'
// BM_NiSymmetricVsOneSided/M/d adds 50,000 rows only with DQ_BENCH_BIG=1. Issue 24's goals:
// bench/bench_knn_goals.cpp.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <numeric>
#include <tuple>
#include <unistd.h>

#include "bench/bench_checks.h"
#include "bench/bench_zoo.h"
#include "core/error.h"
#include "methods/knn/knn.h"
#include "methods/method.h"

namespace {

using dq::bench::zoo_class;
using dq::bench::zoo_classes;
using dq::bench::zoo_name;

// The ten classes a 10-class benchmark row runs on: 10 x 5,000 x dim of the member (the real member:
// its classes as they are).
std::vector<dq::ClassView> ten_classes(int member, int64_t dim) { return zoo_classes(member, 10, 5000, dim); }

using dq::bench::blas_kernel;
using dq::bench::sampled_recall;
using dq::bench::seconds;
using dq::bench::select_classes;

// Recall@20 of exact lists is 1 by construction; every row still reports it, so that tables built
// from these rows read alike.
void BM_NiExact(benchmark::State& state) {
  const int member = static_cast<int>(state.range(1));
  const dq::RowMatrix z = zoo_class(member, state.range(0), 512);
  dq::MemoryBudget memory(16ull << 30);
  dq::SelfKnnResult r;
  for (auto _ : state) r = dq::exact_self_knn(z, 50, {20, 256ull << 20}, memory);
  state.counters["recall_at_20"] = 1.0;
  state.counters["bf16"] = r.nomination == dq::Nomination::Bf16;
  state.SetLabel(zoo_name(member));
}

// Exact NI (BGFDQ's graph, build_knn_graph) of one class of 40,000 x 64 (real embeddings: their first
// class) where a share of the rows
// (percent, first argument) are copies of its first row, against the same class without copies,
// alternately (two rounds, the faster of each). Large duplicate groups are searched once
// (methods/knn/internal/duplicate_reduction.h); without that each copy's candidates were all the
// others (half of the rows copies: 8 s against 0.3 s). Reports both times and copies_over_plain.
void BM_NiExactDuplicates(benchmark::State& state) {
  const int64_t percent = state.range(0);
  const int member = static_cast<int>(state.range(1));
  const bool real = member == dq::bench::zoo_real();  // the real member: its first class as it is
  const dq::RowMatrix plain = zoo_class(member, real ? zoo_classes(member, 1, 1, 0).front().size() : 40000, real ? 0 : 64);
  std::vector<float> copied(plain.data, plain.data + plain.rows * plain.cols);
  for (int64_t i = 1; i < plain.rows; ++i)
    if (i % 100 < percent) std::copy_n(plain.data, plain.cols, copied.data() + i * plain.cols);
  std::vector<int64_t> ids(static_cast<size_t>(plain.rows));
  std::iota(ids.begin(), ids.end(), 0);
  dq::KnnGraphOptions o;
  o.knn = dq::KnnMode::parse("exact");
  dq::MemoryBudget memory(16ull << 30);
  dq::bench::Contender without, with;
  int64_t duplicates = 0;
  for (auto _ : state)
    for (int round = 0; round < 2; ++round) {
      without.time([&] { benchmark::DoNotOptimize(dq::build_knn_graph({0, ids, plain.data, plain.cols}, o, memory, {})); });
      with.time([&] { duplicates = dq::build_knn_graph({0, ids, copied.data(), plain.cols}, o, memory, {}).duplicates; });
    }
  without.report(state, "plain");
  with.report(state, "copies");
  state.counters["copies_over_plain"] = with.wall / without.wall;
  state.counters["duplicates"] = static_cast<double>(duplicates);
  state.counters["recall_at_20"] = 1.0;
  state.SetLabel(zoo_name(member) + " " + dq::bench::blas_kernel());
}

// The clustered search as BGFDQ runs it: recall target 0.99 on 1,000 sampled rows (the check
// included in the time), recall@20 then measured on 500 other rows.
void BM_NiClustered(benchmark::State& state) {
  const int member = static_cast<int>(state.range(1));
  const dq::RowMatrix z = zoo_class(member, state.range(0), 512);
  dq::MemoryBudget memory(16ull << 30);
  dq::SelfKnnResult r;
  const std::vector<int64_t> target_sample = dq::bench::spread_sample(z.rows, 1000, 1);
  for (auto _ : state)
    r = dq::clustered_self_knn(z, {.k = 20, .recall_sample = target_sample, .recall_target = 0.99}, memory);
  dq::bench::report_search(state, r.report, r.nomination);
  state.counters["recall_at_20"] = sampled_recall(z, r.lists, memory);
  state.SetLabel(zoo_name(member));
}

void BM_NiFaissPca64Flat(benchmark::State& state) {
  const int member = static_cast<int>(state.range(1));
  const dq::RowMatrix z = zoo_class(member, state.range(0), 512);
  dq::MemoryBudget memory(16ull << 30);
  dq::SelfKnnResult r;
  for (auto _ : state) r = dq::approximate_self_knn(z, {"PCA64,Flat", 20, 0, 0, 2.0, 50}, memory);
  state.counters["recall_at_20"] = sampled_recall(z, r.lists, memory);
  state.SetLabel(zoo_name(member));
}

// Whole BGFDQ selection (NI + NCS) on 10 x 5,000 x 512 through the method registry, as `dqbench
// select` runs it; counters carry the sub-stage times and recall@20.
void BM_BgfdqSideBySide(benchmark::State& state, const std::string& spec) {
  const int member = static_cast<int>(state.range(0));
  const std::vector<dq::ClassView> classes = ten_classes(member, 512);
  auto method = dq::parse_method_spec(spec, "bench").instantiate();
  dq::MemoryBudget memory(16ull << 30);
  std::map<std::string, double> stage_s;
  double recall = 0;
  for (auto _ : state) {
    dq::StageTimer timer;
    dq::SelectContext ctx{0.2, 0, memory, timer, {}};
    const auto sel = method->select(classes, ctx);
    stage_s.clear();
    for (const auto& r : timer.records()) stage_s[r.name] += r.wall_s;
    recall = 0;
    for (const auto& s : sel) recall += s.diagnostics.count("knn_recall_at_k") ? s.diagnostics.at("knn_recall_at_k") : 1.0;
    recall /= static_cast<double>(sel.size());
  }
  state.counters["ni_s"] = stage_s["neighbour_id"] - stage_s["neighbour_id/knn_recall"];
  state.counters["recall_check_s"] = stage_s["neighbour_id/knn_recall"];
  state.counters["ncs_s"] = stage_s["coreset_selection"];
  state.counters["recall_at_20"] = recall;
  state.SetLabel(zoo_name(member));
}

// Exact NI on one class, the symmetric search against the one-sided one, alternately (two rounds
// below 50,000 rows, one at 50,000); the faster time of each. GFLOP/s counts 2 M^2 d for both, so
// the symmetric search's figure is "one-sided equivalent". Fails if lists or pairs differ.
void BM_NiSymmetricVsOneSided(benchmark::State& state) {
  const int64_t m = state.range(0), dim = state.range(1);
  const int member = static_cast<int>(state.range(2));
  const dq::RowMatrix z = zoo_class(member, m, dim);
  dq::MemoryBudget memory(16ull << 30);
  double one_sided = 1e300, symmetric = 1e300;
  for (auto _ : state) {
    for (int round = 0; round < (m >= 50000 ? 1 : 2); ++round) {
      dq::SelfKnnResult a, b;
      one_sided = std::min(one_sided, seconds([&] { a = dq::exact_self_knn(z, 50, {20, 256ull << 20, false}, memory); }));
      symmetric = std::min(symmetric, seconds([&] { b = dq::exact_self_knn(z, 50, {20, 256ull << 20, true}, memory); }));
      if (a.lists.ids != b.lists.ids || a.lists.dist != b.lists.dist || a.smallest_pairs != b.smallest_pairs)
        dq::bench::fail(state, "exact search M=" + std::to_string(m) + " d=" + std::to_string(dim) +
                                   ": symmetric and one-sided lists or pairs differ (must be equal)");
    }
  }
  const double flop = 2.0 * static_cast<double>(m) * static_cast<double>(m) * static_cast<double>(dim);
  state.counters["one_sided_s"] = one_sided;
  state.counters["symmetric_s"] = symmetric;
  state.counters["speedup"] = one_sided / symmetric;
  state.counters["one_sided_gflops"] = flop / one_sided * 1e-9;
  state.counters["symmetric_equiv_gflops"] = flop / symmetric * 1e-9;
  state.counters["recall_at_20"] = 1.0;
  state.SetLabel(zoo_name(member) + " " + blas_kernel());
}

// Where knn=auto switches: the symmetric exact search against the clustered search plus its recall
// check (1,000 sampled rows), one class of M, alternately.
void BM_NiAutoCrossover(benchmark::State& state) {
  const int64_t m = state.range(0), dim = state.range(1);
  const int member = static_cast<int>(state.range(2));
  const dq::RowMatrix z = zoo_class(member, m, dim);
  dq::MemoryBudget memory(16ull << 30);
  double exact = 0, clustered = 0, recall = 0;
  for (auto _ : state) {
    exact = seconds([&] { benchmark::DoNotOptimize(dq::exact_self_knn(z, 50, {20, 256ull << 20, true}, memory)); });
    clustered = seconds([&] {
      const auto r = dq::clustered_self_knn(z, {20, 0, 8, 50, 256ull << 20}, memory);
      recall = sampled_recall(z, r.lists, memory, 1000);  // as costly as the check knn=auto's clustered search runs
    });
  }
  state.counters["exact_s"] = exact;
  state.counters["clustered_with_recall_s"] = clustered;
  state.counters["exact_over_clustered"] = exact / clustered;
  state.counters["recall_at_20"] = recall;
  state.SetLabel(zoo_name(member) + " " + blas_kernel());
}

// A K sweep {5, 10, 20, 40} of bgfdq (exact) on 10 x 5,000: four separate graphs against one graph
// at K = 40 served to the smaller K through the cache (the sweep lists its largest K first). Both
// sweeps must pick the same ids.
void BM_KSweep(benchmark::State& state) {
  const int64_t dim = state.range(0);
  const int member = static_cast<int>(state.range(1));
  const std::vector<dq::ClassView> classes = ten_classes(member, dim);
  const auto dir = std::filesystem::temp_directory_path() / ("dq_bench_ksweep_" + std::to_string(::getpid()));
  dq::MemoryBudget memory(16ull << 30);
  double separate = 0, shared = 0, served = 0;
  for (auto _ : state) {
    std::filesystem::remove_all(dir);
    std::map<int, uint64_t> hashes;
    auto sweep = [&](const std::vector<int>& ks, bool cache) {
      for (int k : ks) {
        dq::CellResources resources;
        if (cache) {
          resources.cache_dir = dir.string();
          resources.embedding_key = "bench-ksweep";
        }
        const auto out = select_classes("bgfdq(k=" + std::to_string(k) + ")", classes, memory, resources);
        if (cache && k < 40) served += out[0].diagnostics.at("knn_graph_k") == 40 ? 1 : 0;
        const uint64_t h = dq::bench::picks_hash(out);
        if (hashes.count(k) && hashes[k] != h)
          dq::bench::fail(state, "bgfdq(k=" + std::to_string(k) + "): the cached sweep picked other ids than the fresh one");
        hashes[k] = h;
      }
    };
    separate = seconds([&] { sweep({5, 10, 20, 40}, false); });
    shared = seconds([&] { sweep({40, 20, 10, 5}, true); });
  }
  std::filesystem::remove_all(dir);
  state.counters["four_graphs_s"] = separate;
  state.counters["one_graph_s"] = shared;
  state.counters["speedup"] = separate / shared;
  state.counters["k_served_from_40"] = served;
  state.SetLabel(zoo_name(member) + " " + blas_kernel());
}

// The CIFAR-10 shape (10 x 5,000, ratio 0.2): BGFDQ (exact NI, symmetric and one-sided, + NCS)
// against DQ's modes, whole select through the registry, alternately. Fails if DQ's memo and
// streaming modes pick different ids.
void BM_TenClassesBgfdqVsDq(benchmark::State& state) {
  const int64_t dim = state.range(0);
  const int member = static_cast<int>(state.range(1));
  const std::vector<dq::ClassView> classes = ten_classes(member, dim);
  dq::MemoryBudget memory(16ull << 30);
  std::map<std::string, uint64_t> picks;
  auto run = [&](const std::string& spec) {
    return seconds([&] { picks[spec] = dq::bench::picks_hash(select_classes(spec, classes, memory)); });
  };
  double bgfdq = 0, bgfdq_one_sided = 0, dq_memo = 0, dq_streaming = 0;
  for (auto _ : state) {
    bgfdq = run("bgfdq(knn=exact)");
    dq_memo = run("dq(mode=memo)");
    dq_streaming = run("dq(mode=streaming)");
    if (picks["dq(mode=memo)"] != picks["dq(mode=streaming)"])
      dq::bench::fail(state, "10 x 5,000 d=" + std::to_string(dim) + ": dq memo and streaming picked other ids (must be equal)");
    bgfdq_one_sided = seconds([&] {
      for (const auto& c : classes)
        benchmark::DoNotOptimize(dq::exact_self_knn(dq::RowMatrix{c.z, c.size(), c.d}, 50, {20, 256ull << 20, false}, memory));
    });
  }
  const double fastest_dq = std::min(dq_memo, dq_streaming);
  state.counters["bgfdq_exact_s"] = bgfdq;
  state.counters["ni_one_sided_only_s"] = bgfdq_one_sided;
  state.counters["dq_memo_s"] = dq_memo;
  state.counters["dq_streaming_s"] = dq_streaming;
  state.counters["fastest_dq_over_bgfdq"] = fastest_dq / bgfdq;
  state.counters["recall_at_20"] = 1.0;  // exact NI
  state.SetLabel(zoo_name(member) + " " + blas_kernel());
}

}  // namespace

// Every row once per zoo member (the last argument); rows asking more rows per class than the real
// embeddings have skip that member.
BENCHMARK(BM_NiExact)->Apply([](auto* b) { dq::bench::apply_per_member(b, {{1 << 10}, {1 << 12}, {1 << 14}}); })
    ->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_NiExactDuplicates)->Apply([](auto* b) { dq::bench::apply_per_member(b, {{25}, {50}, {90}}); })
    ->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NiClustered)->Apply([](auto* b) { dq::bench::apply_per_member(b, {{1 << 10}, {1 << 12}, {1 << 14}}); })
    ->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_NiFaissPca64Flat)->Apply([](auto* b) { dq::bench::apply_per_member(b, {{1 << 10}, {1 << 12}, {1 << 14}}); })
    ->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_BgfdqSideBySide, exact, std::string("bgfdq(knn=exact)"))
    ->Apply([](auto* b) { dq::bench::apply_per_member(b, {{}}, false); })->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_BgfdqSideBySide, clustered, std::string("bgfdq(knn=clustered)"))
    ->Apply([](auto* b) { dq::bench::apply_per_member(b, {{}}, false); })->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_BgfdqSideBySide, pca64_flat, std::string("bgfdq(knn=PCA64,Flat)"))
    ->Apply([](auto* b) { dq::bench::apply_per_member(b, {{}}, false); })->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_NiSymmetricVsOneSided)
    ->Apply([](auto* b) { dq::bench::apply_per_member(b, {{5000, 128}, {5000, 512}, {20000, 128}, {20000, 512}}); })
    ->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_NiAutoCrossover)
    ->Apply([](auto* b) {
      dq::bench::apply_per_member(b, {{5000, 512}, {10000, 512}, {20000, 512}, {40000, 512}, {20000, 128}, {40000, 128}});
    })
    ->Unit(benchmark::kMillisecond)->Iterations(1);
// d = 0: the real member's own dimension (its rows only).
BENCHMARK(BM_KSweep)->Apply([](auto* b) { dq::bench::apply_per_member(b, {{128}, {512}}, false); })
    ->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_TenClassesBgfdqVsDq)->Apply([](auto* b) { dq::bench::apply_per_member(b, {{128}, {512}}, false); })
    ->Unit(benchmark::kMillisecond)->Iterations(1);

namespace {
// 50,000 rows per class, on request only (about two minutes on a quiet core).
const bool kBigSymmetricRegistered = [] {
  if (const char* big = std::getenv("DQ_BENCH_BIG"); big && std::string(big) == "1")
    benchmark::RegisterBenchmark("BM_NiSymmetricVsOneSided", BM_NiSymmetricVsOneSided)
        ->Apply([](auto* b) { dq::bench::apply_per_member(b, {{50000, 128}, {50000, 512}}); })
        ->Unit(benchmark::kMillisecond)->Iterations(1);
  return true;
}();
}  // namespace
