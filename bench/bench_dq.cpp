// DQ bin generation and DQ selection on synthetic clustered embeddings (d = 512):
//  - BM_GraphCutBins/<mode>/M: one class of M, the three greedy modes (naive only to 4k), with
//    complexity fits over M; a mode whose bins differ from the first mode run at that M fails;
//  - BM_DqTenClasses/<mode>: 10 classes x 5,000, bins + sampling at ratio 0.2, the shape the BGFDQ
//    NI+NCS bench uses; counter picks_hash, and a mode whose picks differ from the first mode's fails
//    (bench/bench_checks.h: the benchmark errors and dq_bench exits 1);
//  - BM_GraphCutStreamingScale/M: streaming alone at 5k, 20k, 50k (and 200k when DQ_BENCH_BIG=1).
// Run: ./build/dq_bench --benchmark_filter='GraphCut|DqTen'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <numeric>
#include <vector>

#include "bench/bench_checks.h"
#include "datasets/clustered_gaussian.h"
#include "methods/graphcut/graphcut.h"
#include "methods/method.h"

namespace {

constexpr int64_t kDim = 512;

// Many tight clusters (the shared generator, datasets/clustered_gaussian.h): centres ~ N(0, 1) per
// dimension, points at centre + 0.1 * N(0, 1), one cluster per 100 points (at least 10). Cached per
// (m, seed): generating 200k x 512 normals takes a while.
const std::vector<float>& embeddings(int64_t m, uint64_t seed) {
  static std::map<std::pair<int64_t, uint64_t>, std::vector<float>> cache;
  auto& z = cache[{m, seed}];
  if (z.empty())
    z = dq::generate_clustered_gaussian({.per_class = m,
                                         .dim = kDim,
                                         .clusters_per_class = std::max<int64_t>(10, m / 100),
                                         .cluster_spread = 0.1,
                                         .seed = seed})
            .features;
  return z;
}

std::vector<int64_t> iota_ids(int64_t m, int64_t first = 0) {
  std::vector<int64_t> ids(static_cast<size_t>(m));
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

void run_bins(benchmark::State& state, dq::GreedyMode mode) {
  const int64_t m = state.range(0);
  const auto& z = embeddings(m, 1);
  const auto ids = iota_ids(m);
  const dq::ClassView cls{0, ids, z.data(), kDim};
  dq::MemoryBudget memory(dq::physical_memory_bytes());
  dq::ClassBins bins;
  for (auto _ : state) {
    bins = dq::generate_graphcut_bins(cls, dq::BinParams{10, dq::GraphCutKernel::NegSqEuclid, mode}, memory);
    benchmark::DoNotOptimize(bins);
  }
  dq::bench::same_across_contenders(state, "GraphCut bins M=" + std::to_string(m), dq::mode_name(mode), dq::bench::bins_hash(bins),
                                    dq::bench::OnMismatch::StopRun);  // registered with ->Complexity()
  state.SetComplexityN(m);
}

void BM_GraphCutBins_naive(benchmark::State& s) { run_bins(s, dq::GreedyMode::Naive); }
void BM_GraphCutBins_memo(benchmark::State& s) { run_bins(s, dq::GreedyMode::Memo); }
void BM_GraphCutBins_streaming(benchmark::State& s) { run_bins(s, dq::GreedyMode::Streaming); }
BENCHMARK(BM_GraphCutBins_naive)->RangeMultiplier(2)->Range(1 << 10, 1 << 12)->Unit(benchmark::kMillisecond)->Complexity();
BENCHMARK(BM_GraphCutBins_memo)->RangeMultiplier(2)->Range(1 << 10, 1 << 14)->Unit(benchmark::kMillisecond)->Complexity();
BENCHMARK(BM_GraphCutBins_streaming)->RangeMultiplier(2)->Range(1 << 10, 1 << 14)->Unit(benchmark::kMillisecond)->Complexity();

void BM_DqTenClasses(benchmark::State& state, const char* mode) {
  constexpr int64_t kClasses = 10, kPerClass = 5000;
  std::vector<std::vector<int64_t>> ids;
  std::vector<dq::ClassView> views;
  for (int64_t c = 0; c < kClasses; ++c) ids.push_back(iota_ids(kPerClass, c * kPerClass));
  for (int64_t c = 0; c < kClasses; ++c)
    views.push_back({c, ids[static_cast<size_t>(c)], embeddings(kPerClass, 100 + static_cast<uint64_t>(c)).data(), kDim});
  auto method = dq::parse_method_spec(std::string("dq(mode=") + mode + ")", "bench").instantiate();
  dq::MemoryBudget memory(dq::physical_memory_bytes());
  for (auto _ : state) {
    dq::StageTimer timer;
    dq::SelectContext ctx{0.2, 42, memory, timer, {}};
    const auto out = method->select_all(views, ctx);
    double generation = 0, sampling = 0;
    for (const auto& r : timer.records()) (r.name == "bin_generation" ? generation : sampling) += r.wall_s;
    state.counters["bin_generation_s"] = generation;
    state.counters["bin_sampling_s"] = sampling;
    const uint64_t hash = dq::bench::picks_hash(out);
    state.counters["picks_hash"] = static_cast<double>(hash & 0xFFFFFFFFu);
    dq::bench::same_across_contenders(state, "DQ picks, 10 classes x 5,000", mode, hash);
  }
}
BENCHMARK_CAPTURE(BM_DqTenClasses, naive, "naive")->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(BM_DqTenClasses, memo, "memo")->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(BM_DqTenClasses, streaming, "streaming")->Iterations(1)->Unit(benchmark::kSecond);

void BM_GraphCutStreamingScale(benchmark::State& state) {
  run_bins(state, dq::GreedyMode::Streaming);
}
BENCHMARK(BM_GraphCutStreamingScale)->Arg(5000)->Arg(20000)->Arg(50000)->Iterations(1)->Unit(benchmark::kSecond);
// The scale experiment's class size, on request only (minutes, ~0.4 GB of embeddings).
const bool kBigRegistered = [] {
  if (const char* big = std::getenv("DQ_BENCH_BIG"); big && std::string(big) == "1")
    benchmark::RegisterBenchmark("BM_GraphCutStreamingScale/200000", [](benchmark::State& s) {
      const int64_t m = 200000;
      const auto& z = embeddings(m, 1);
      const auto ids = iota_ids(m);
      const dq::ClassView cls{0, ids, z.data(), kDim};
      dq::MemoryBudget memory(dq::physical_memory_bytes());
      for (auto _ : s) benchmark::DoNotOptimize(dq::generate_graphcut_bins(cls, dq::BinParams{10, dq::GraphCutKernel::NegSqEuclid, dq::GreedyMode::Streaming}, memory));
    })->Iterations(1)->Unit(benchmark::kSecond);
  return true;
}();

}  // namespace
