// Neighbour identification cost against class size M (d = 512, synthetic clustered embeddings), and
// BGFDQ side by side with exact and approximate neighbours on 10 classes x 5,000.
//   ./build/dq_bench --benchmark_filter='Ni|Bgfdq'
// Exact search is O(M^2 d); the clustered search is about nprobe/nlist of it with nlist = sqrt(M), so
// O(M^1.5 d). Timings are wall-clock on whatever else the machine is running: compare side by side.
// Issue 14's side-by-side runs (each times its contenders alternately in one process and reports
// ratios; a run whose contenders disagree on the result fails):
//   ./build/dq_bench --benchmark_filter='Symmetric|AutoCrossover|KSweep|TenClasses'
// BM_NiSymmetricVsOneSided/M/d adds 50,000 rows only with DQ_BENCH_BIG=1.
#include <benchmark/benchmark.h>

#include <dlfcn.h>

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
#include "core/error.h"
#include "core/npy.h"
#include "core/params.h"
#include "datasets/dataset.h"
#include "methods/knn/knn.h"
#include "methods/method.h"

namespace {

const dq::Dataset& synthetic(int64_t classes, int64_t per_class, int64_t dim = 512) {
  static std::map<std::tuple<int64_t, int64_t, int64_t>, dq::Dataset> cache;
  auto key = std::make_tuple(classes, per_class, dim);
  auto it = cache.find(key);
  if (it == cache.end()) {
    const auto& info = dq::DatasetRegistry::instance().find("synthetic_embeddings", "bench");
    dq::Params p("dataset", info.params);
    p.set_from_text("classes", std::to_string(classes), "bench");
    p.set_from_text("per_class", std::to_string(per_class), "bench");
    p.set_from_text("dim", std::to_string(dim), "bench");
    it = cache.emplace(key, info.load(p)).first;
  }
  return it->second;
}

dq::RowMatrix one_class(int64_t m, int64_t dim = 512) {
  const dq::Dataset& d = synthetic(1, m, dim);
  return dq::RowMatrix{d.train_features.data(), m, d.feature_dim};
}

std::vector<dq::ClassView> class_views(const dq::Dataset& d, int64_t classes, int64_t per_class, std::vector<int64_t>& ids) {
  ids.resize(static_cast<size_t>(d.train.n));
  std::iota(ids.begin(), ids.end(), 0);
  std::vector<dq::ClassView> views;
  for (int64_t c = 0; c < classes; ++c)
    views.push_back(dq::ClassView{c, std::span<const int64_t>(ids.data() + c * per_class, static_cast<size_t>(per_class)),
                                  d.train_features.data() + c * per_class * d.feature_dim, d.feature_dim});
  return views;
}

// Real embeddings for the 10-class benchmarks (BM_KSweep, BM_TenClassesBgfdqVsDq): with
// DQ_BENCH_EMBEDDINGS=Z.npy and DQ_BENCH_LABELS=y.npy (N x d float, N integer labels, e.g. the CIFAR-10
// extractor's cached embeddings and the labels `dq_side_by_side dump` writes) they gain the row
// d = 0, which runs on these rows grouped by label instead of synthetic data.
struct LabelledRows {
  std::vector<float> z;          // rows regrouped class by class, in label order
  std::vector<int64_t> ids;      // original row ids, in the same order
  std::vector<dq::ClassView> views;
};

const LabelledRows& real_embeddings() {
  static const LabelledRows rows = [] {
    const std::string zpath = std::getenv("DQ_BENCH_EMBEDDINGS"), ypath = std::getenv("DQ_BENCH_LABELS");
    const dq::NpyArray za = dq::read_npy(zpath);
    const std::vector<float> z = za.as_float32(zpath);
    const std::vector<int64_t> y = dq::read_npy(ypath).as_int64(ypath);
    const int64_t n = za.shape.at(0), d = za.shape.at(1);
    if (static_cast<int64_t>(y.size()) != n) throw dq::Error(ypath + ": labels do not match the embeddings' rows");
    LabelledRows out;
    out.ids.resize(static_cast<size_t>(n));
    std::iota(out.ids.begin(), out.ids.end(), 0);
    std::stable_sort(out.ids.begin(), out.ids.end(), [&](int64_t a, int64_t b) { return y[a] < y[b]; });
    out.z.resize(static_cast<size_t>(n * d));
    for (int64_t i = 0; i < n; ++i) std::copy_n(z.data() + out.ids[i] * d, d, out.z.data() + i * d);
    for (int64_t begin = 0; begin < n;) {
      int64_t end = begin;
      while (end < n && y[out.ids[end]] == y[out.ids[begin]]) ++end;
      out.views.push_back(dq::ClassView{y[out.ids[begin]], std::span<const int64_t>(out.ids.data() + begin, static_cast<size_t>(end - begin)),
                                        out.z.data() + begin * d, d});
      begin = end;
    }
    return out;
  }();
  return rows;
}

// The ten classes a 10-class benchmark row runs on: synthetic 10 x 5,000 x dim, or the real rows (dim 0).
std::vector<dq::ClassView> ten_classes(int64_t dim, std::vector<int64_t>& ids) {
  if (dim == 0) return real_embeddings().views;
  return class_views(synthetic(10, 5000, dim), 10, 5000, ids);
}

template <class F>
double seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The BLAS kernel OpenBLAS picked (OPENBLAS_CORETYPE), so that numbers name it.
std::string blas_kernel() {
  using CoreName = char* (*)();
  if (auto name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) return name();
  return "not OpenBLAS";
}

// One whole selection (select_all at ratio 0.2, seed 0) through the method registry.
std::vector<dq::ClassSelection> select_classes(const std::string& spec, const std::vector<dq::ClassView>& classes,
                                               dq::MemoryBudget& memory, const dq::Services& services = {}) {
  auto method = dq::parse_method_spec(spec, "bench").instantiate();
  dq::StageTimer timer;
  dq::SelectContext ctx{0.2, 0, memory, timer, services};
  return method->select_all(classes, ctx);
}

// Recall@20 of `lists` on `count` query rows spread over the class (row s * 7919 mod M).
double sampled_recall(dq::RowMatrix z, const dq::NeighbourLists& lists, dq::MemoryBudget& memory, int64_t count = 500) {
  std::vector<int64_t> sample(static_cast<size_t>(std::min<int64_t>(z.rows, count)));
  for (size_t s = 0; s < sample.size(); ++s) sample[s] = static_cast<int64_t>(s * 7919 % static_cast<size_t>(z.rows));
  return dq::recall_at_k(z, lists, sample, {20, 256ull << 20}, memory);
}

void BM_NiExact(benchmark::State& state) {
  const dq::RowMatrix z = one_class(state.range(0));
  dq::MemoryBudget memory(16ull << 30);
  for (auto _ : state) benchmark::DoNotOptimize(dq::exact_self_knn(z, 50, {20, 256ull << 20}, memory));
  state.SetComplexityN(state.range(0));
}

void BM_NiClustered(benchmark::State& state) {
  const dq::RowMatrix z = one_class(state.range(0));
  dq::MemoryBudget memory(16ull << 30);
  dq::SelfKnnResult r;
  for (auto _ : state) r = dq::clustered_self_knn(z, {20, 0, 8, 50, 256ull << 20}, memory);
  state.counters["recall_at_20"] = sampled_recall(z, r.lists, memory);
  state.SetComplexityN(state.range(0));
}

void BM_NiFaissPca64Flat(benchmark::State& state) {
  const dq::RowMatrix z = one_class(state.range(0));
  dq::MemoryBudget memory(16ull << 30);
  dq::SelfKnnResult r;
  for (auto _ : state) r = dq::approximate_self_knn(z, {"PCA64,Flat", 20, 0, 0, 2.0, 50}, memory);
  state.counters["recall_at_20"] = sampled_recall(z, r.lists, memory);
  state.SetComplexityN(state.range(0));
}

// Whole BGFDQ selection (NI + NCS) on 10 x 5,000 through the method registry, as `dqbench select`
// runs it; counters carry the sub-stage times and recall@20.
void BM_BgfdqSideBySide(benchmark::State& state, const std::string& spec) {
  const dq::Dataset& d = synthetic(10, 5000);
  std::vector<int64_t> ids;
  const std::vector<dq::ClassView> classes = class_views(d, 10, 5000, ids);
  auto method = dq::parse_method_spec(spec, "bench").instantiate();
  dq::MemoryBudget memory(16ull << 30);
  std::map<std::string, double> stage_s;
  double recall = 0;
  for (auto _ : state) {
    dq::StageTimer timer;
    dq::SelectContext ctx{0.2, 0, memory, timer, {}};
    const auto sel = method->select_all(classes, ctx);
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
}

// Exact NI on one class, the symmetric search against the one-sided one, alternately (two rounds
// below 50,000 rows, one at 50,000); the faster time of each. GFLOP/s counts 2 M^2 d for both, so
// the symmetric search's figure is "one-sided equivalent". Fails if lists or pairs differ.
void BM_NiSymmetricVsOneSided(benchmark::State& state) {
  const int64_t m = state.range(0), dim = state.range(1);
  const dq::RowMatrix z = one_class(m, dim);
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
  state.SetLabel(blas_kernel());
}

// Where knn=auto switches: the symmetric exact search against the clustered search plus its recall
// check (1,000 sampled rows), one class of M, alternately.
void BM_NiAutoCrossover(benchmark::State& state) {
  const int64_t m = state.range(0), dim = state.range(1);
  const dq::RowMatrix z = one_class(m, dim);
  dq::MemoryBudget memory(16ull << 30);
  double exact = 0, clustered = 0, recall = 0;
  for (auto _ : state) {
    exact = seconds([&] { benchmark::DoNotOptimize(dq::exact_self_knn(z, 50, {20, 256ull << 20, true}, memory)); });
    clustered = seconds([&] {
      const auto r = dq::clustered_self_knn(z, {20, 0, 8, 50, 256ull << 20}, memory);
      recall = sampled_recall(z, r.lists, memory, 1000);
    });
  }
  state.counters["exact_s"] = exact;
  state.counters["clustered_with_recall_s"] = clustered;
  state.counters["exact_over_clustered"] = exact / clustered;
  state.counters["recall_at_20"] = recall;
  state.SetLabel(blas_kernel());
}

// A K sweep {5, 10, 20, 40} of bgfdq (exact) on 10 x 5,000: four separate graphs against one graph
// at K = 40 served to the smaller K through the cache (the sweep lists its largest K first). Both
// sweeps must pick the same ids.
void BM_KSweep(benchmark::State& state) {
  const int64_t dim = state.range(0);
  std::vector<int64_t> ids;
  const std::vector<dq::ClassView> classes = ten_classes(dim, ids);
  const auto dir = std::filesystem::temp_directory_path() / ("dq_bench_ksweep_" + std::to_string(::getpid()));
  dq::MemoryBudget memory(16ull << 30);
  double separate = 0, shared = 0, served = 0;
  for (auto _ : state) {
    std::filesystem::remove_all(dir);
    std::map<int, uint64_t> hashes;
    auto sweep = [&](const std::vector<int>& ks, bool cache) {
      for (int k : ks) {
        dq::Services services;
        if (cache) {
          services.cache_dir = dir.string();
          services.embedding_key = "bench-ksweep";
        }
        const auto out = select_classes("bgfdq(k=" + std::to_string(k) + ")", classes, memory, services);
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
  state.SetLabel(blas_kernel());
}

// The CIFAR-10 shape (10 x 5,000, ratio 0.2): BGFDQ (exact NI, symmetric and one-sided, + NCS)
// against DQ's modes, whole select_all through the registry, alternately. Fails if DQ's memo and
// streaming modes pick different ids.
void BM_TenClassesBgfdqVsDq(benchmark::State& state) {
  const int64_t dim = state.range(0);
  std::vector<int64_t> ids;
  const std::vector<dq::ClassView> classes = ten_classes(dim, ids);
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
  state.SetLabel(blas_kernel());
}

}  // namespace

BENCHMARK(BM_NiExact)->RangeMultiplier(2)->Range(1 << 10, 1 << 14)->Unit(benchmark::kMillisecond)->Iterations(1)->Complexity();
BENCHMARK(BM_NiClustered)->RangeMultiplier(2)->Range(1 << 10, 1 << 14)->Unit(benchmark::kMillisecond)->Iterations(1)->Complexity();
BENCHMARK(BM_NiFaissPca64Flat)->RangeMultiplier(2)->Range(1 << 10, 1 << 14)->Unit(benchmark::kMillisecond)->Iterations(1)->Complexity();
BENCHMARK_CAPTURE(BM_BgfdqSideBySide, exact, std::string("bgfdq(knn=exact)"))->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_BgfdqSideBySide, clustered, std::string("bgfdq(knn=clustered)"))->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_BgfdqSideBySide, pca64_flat, std::string("bgfdq(knn=PCA64,Flat)"))->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_NiSymmetricVsOneSided)
    ->Args({5000, 128})->Args({5000, 512})->Args({20000, 128})->Args({20000, 512})
    ->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_NiAutoCrossover)
    ->Args({5000, 512})->Args({10000, 512})->Args({20000, 512})->Args({40000, 512})->Args({20000, 128})->Args({40000, 128})
    ->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_KSweep)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_TenClassesBgfdqVsDq)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->Iterations(1);

namespace {
// 50,000 rows per class, on request only (about two minutes on a quiet core).
const bool kBigSymmetricRegistered = [] {
  if (const char* big = std::getenv("DQ_BENCH_BIG"); big && std::string(big) == "1")
    benchmark::RegisterBenchmark("BM_NiSymmetricVsOneSided", BM_NiSymmetricVsOneSided)
        ->Args({50000, 128})->Args({50000, 512})->Unit(benchmark::kMillisecond)->Iterations(1);
  return true;
}();
// The 10-class rows on real embeddings (d = 0), on request only (see real_embeddings()).
const bool kRealTenClassesRegistered = [] {
  if (std::getenv("DQ_BENCH_EMBEDDINGS") && std::getenv("DQ_BENCH_LABELS")) {
    benchmark::RegisterBenchmark("BM_KSweep", BM_KSweep)->Arg(0)->Unit(benchmark::kMillisecond)->Iterations(1);
    benchmark::RegisterBenchmark("BM_TenClassesBgfdqVsDq", BM_TenClassesBgfdqVsDq)->Arg(0)->Unit(benchmark::kMillisecond)->Iterations(1);
  }
  return true;
}();
}  // namespace
