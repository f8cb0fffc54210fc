// dq_bench's entry point: Google Benchmark's, plus a non-zero exit when a benchmark's result check
// failed (bench/bench_checks.h), which Google Benchmark alone only reports as an error row.
#include <benchmark/benchmark.h>

#include "bench/bench_checks.h"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return dq::bench::failed_checks() == 0 ? 0 : 1;
}
