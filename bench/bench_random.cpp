// Random selection over one class of M samples: the cost floor every method is compared against.
#include <benchmark/benchmark.h>

#include <numeric>
#include <vector>

#include "methods/method.h"

static void BM_RandomSelect(benchmark::State& state) {
  const int64_t m = state.range(0);
  std::vector<int64_t> ids(static_cast<size_t>(m));
  std::iota(ids.begin(), ids.end(), 0);
  dq::ClassView cls{0, ids, nullptr, 0};
  dq::MemoryBudget memory(1ull << 30);
  dq::StageTimer timer;
  auto spec = dq::parse_method_spec("random", "bench");
  auto method = spec.instantiate();
  for (auto _ : state) {
    dq::SelectContext ctx{0.2, 42, memory, timer, {}};
    benchmark::DoNotOptimize(method->select(cls, ctx));
  }
  state.SetComplexityN(m);
}
BENCHMARK(BM_RandomSelect)->RangeMultiplier(4)->Range(1 << 10, 1 << 18)->Complexity();

