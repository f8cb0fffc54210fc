// Neighbour identification cost against class size M (d = 512, synthetic clustered embeddings), and
// BGFDQ side by side with exact and approximate neighbours on 10 classes x 5,000.
//   ./build/dq_bench --benchmark_filter='Ni|Bgfdq'
// Exact search is O(M^2 d); the clustered search is about nprobe/nlist of it with nlist = sqrt(M), so
// O(M^1.5 d). Timings are wall-clock on whatever else the machine is running: compare side by side.
#include <benchmark/benchmark.h>

#include <cmath>
#include <map>
#include <numeric>

#include "core/params.h"
#include "datasets/dataset.h"
#include "methods/knn/knn.h"
#include "methods/method.h"

namespace {

const dq::Dataset& synthetic(int64_t classes, int64_t per_class) {
  static std::map<std::pair<int64_t, int64_t>, dq::Dataset> cache;
  auto key = std::make_pair(classes, per_class);
  auto it = cache.find(key);
  if (it == cache.end()) {
    const auto& info = dq::DatasetRegistry::instance().find("synthetic_embeddings", "bench");
    dq::Params p("dataset", info.params);
    p.set_from_text("classes", std::to_string(classes), "bench");
    p.set_from_text("per_class", std::to_string(per_class), "bench");
    it = cache.emplace(key, info.load(p)).first;
  }
  return it->second;
}

dq::RowMatrix one_class(int64_t m) {
  const dq::Dataset& d = synthetic(1, m);
  return dq::RowMatrix{d.train_features.data(), m, d.feature_dim};
}

double sampled_recall(dq::RowMatrix z, const dq::NeighbourLists& lists, dq::MemoryBudget& memory) {
  std::vector<int64_t> sample(static_cast<size_t>(std::min<int64_t>(z.rows, 500)));
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
  std::vector<int64_t> ids(static_cast<size_t>(d.train.n));
  std::iota(ids.begin(), ids.end(), 0);
  std::vector<dq::ClassView> classes;
  for (int64_t c = 0; c < 10; ++c)
    classes.push_back(dq::ClassView{c, std::span<const int64_t>(ids.data() + c * 5000, 5000),
                                    d.train_features.data() + c * 5000 * d.feature_dim, d.feature_dim});
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

}  // namespace

BENCHMARK(BM_NiExact)->RangeMultiplier(2)->Range(1 << 10, 1 << 14)->Unit(benchmark::kMillisecond)->Iterations(1)->Complexity();
BENCHMARK(BM_NiClustered)->RangeMultiplier(2)->Range(1 << 10, 1 << 14)->Unit(benchmark::kMillisecond)->Iterations(1)->Complexity();
BENCHMARK(BM_NiFaissPca64Flat)->RangeMultiplier(2)->Range(1 << 10, 1 << 14)->Unit(benchmark::kMillisecond)->Iterations(1)->Complexity();
BENCHMARK_CAPTURE(BM_BgfdqSideBySide, exact, std::string("bgfdq(knn=exact)"))->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_BgfdqSideBySide, clustered, std::string("bgfdq(knn=clustered)"))->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_BgfdqSideBySide, pca64_flat, std::string("bgfdq(knn=PCA64,Flat)"))->Unit(benchmark::kMillisecond)->Iterations(1);
