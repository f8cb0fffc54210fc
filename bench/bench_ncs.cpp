// Neighbour-aware coreset selection against class size M: O(|S| K) time, O(M) memory, so it should
// fit close to linear. The neighbour lists come from the clustered search on synthetic clustered
// embeddings (d = 512), built once per M outside the timed loop.
//   ./build/dq_bench --benchmark_filter=Ncs
#include <benchmark/benchmark.h>

#include <map>

#include "core/params.h"
#include "datasets/dataset.h"
#include "methods/knn/search.h"
#include "methods/method.h"
#include "methods/ncs.h"

namespace {

const dq::NeighbourLists& lists_for(int64_t m) {
  static std::map<int64_t, dq::NeighbourLists> cache;
  auto it = cache.find(m);
  if (it == cache.end()) {
    const auto& info = dq::DatasetRegistry::instance().find("synthetic_embeddings", "bench");
    dq::Params p("dataset", info.params);
    p.set_from_text("classes", "1", "bench");
    p.set_from_text("per_class", std::to_string(m), "bench");
    const dq::Dataset d = info.load(p);
    dq::MemoryBudget memory(16ull << 30);
    auto r = dq::clustered_self_knn(dq::RowMatrix{d.train_features.data(), m, d.feature_dim}, {20, 0, 8, 0, 256ull << 20}, memory);
    it = cache.emplace(m, std::move(r.lists)).first;
  }
  return it->second;
}

void BM_Ncs(benchmark::State& state) {
  const int64_t m = state.range(0);
  const double ratio = static_cast<double>(state.range(1)) / 100.0;
  const dq::NeighbourLists& lists = lists_for(m);
  const int64_t count = dq::budget_count(ratio, m, 0.25);
  uint64_t seed = 0;
  int64_t refills = 0;
  for (auto _ : state) {
    const dq::NcsResult r = dq::neighbour_aware_selection(lists, count, ratio, 1.0, seed++);
    refills = r.refills;
    benchmark::DoNotOptimize(r.picks.data());
  }
  state.counters["picks"] = static_cast<double>(count);
  state.counters["refills"] = static_cast<double>(refills);
  state.SetComplexityN(m);
}

}  // namespace

// Ratio 20% (CIFAR setting) and 1% (Fakeddit setting), M = 1k .. 64k.
BENCHMARK(BM_Ncs)->ArgsProduct({{1 << 10, 1 << 11, 1 << 12, 1 << 13, 1 << 14, 1 << 15, 1 << 16}, {20}})->Complexity();
BENCHMARK(BM_Ncs)->ArgsProduct({{1 << 10, 1 << 11, 1 << 12, 1 << 13, 1 << 14, 1 << 15, 1 << 16}, {1}})->Complexity();
