#pragma once
// Results that must not depend on the contender (a greedy mode, the symmetric or one-sided search, a
// cached or a fresh graph): one hash of a selection or of bins, and the check that fails the
// benchmark when two contenders disagree, as DuckDB's benchmark runner verifies every result. A
// failure marks the benchmark with state.SkipWithError, is printed to stderr, and makes dq_bench
// exit non-zero (bench/main.cpp), so a scripted run cannot report timings of wrong results.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "methods/graphcut/graphcut.h"
#include "methods/method.h"

namespace dq::bench {

// FNV-1a over 64-bit values, in order.
inline uint64_t fnv1a(uint64_t hash, uint64_t value) { return (hash ^ value) * 0x100000001B3ULL; }
inline constexpr uint64_t kFnvOffset = 0xCBF29CE484222325ULL;

// The selected dataset ids, classes in order, ids in pick order.
inline uint64_t picks_hash(const std::vector<ClassSelection>& out) {
  uint64_t hash = kFnvOffset;
  for (const auto& sel : out)
    for (int64_t id : sel.ids) hash = fnv1a(hash, static_cast<uint64_t>(id));
  return hash;
}

// The bins of one class: positions in order, each bin closed by a separator (so sizes count too).
inline uint64_t bins_hash(const ClassBins& bins) {
  uint64_t hash = kFnvOffset;
  for (const auto& bin : bins) {
    for (int64_t p : bin) hash = fnv1a(hash, static_cast<uint64_t>(p));
    hash = fnv1a(hash, ~uint64_t{0});
  }
  return hash;
}

// What a failed check does. SkipBenchmark: the benchmark's row becomes an error and the run goes on
// (dq_bench still exits 1). StopRun: dq_bench exits 1 at once; for benchmarks registered with
// ->Complexity(), because Google Benchmark 1.7.1 (Debian 12) crashes fitting the complexity over an
// errored run.
enum class OnMismatch { SkipBenchmark, StopRun };

// How many checks failed in this run (main's exit status).
inline int& failed_checks() {
  static int failed = 0;
  return failed;
}

// Fails the benchmark: once per benchmark run, counted, printed.
inline void fail(benchmark::State& state, const std::string& message, OnMismatch on = OnMismatch::SkipBenchmark) {
  if (state.error_occurred()) return;
  ++failed_checks();
  std::fprintf(stderr, "dq_bench: RESULT CHECK FAILED: %s\n", message.c_str());
  if (on == OnMismatch::StopRun) {
    std::fflush(stdout);
    std::exit(1);
  }
  state.SkipWithError(message.c_str());
}

// The first contender to report a hash for `key` sets the expected value; a later contender whose
// hash differs fails `state`, naming both. Contenders may be separate benchmarks
// (BM_DqTenClasses/naive, /memo, /streaming): a filter that runs only one leaves nothing to compare.
inline void same_across_contenders(benchmark::State& state, const std::string& key, const std::string& contender,
                                   uint64_t hash, OnMismatch on = OnMismatch::SkipBenchmark) {
  static std::map<std::string, std::pair<std::string, uint64_t>> first;
  const auto [it, inserted] = first.try_emplace(key, contender, hash);
  if (!inserted && it->second.second != hash)
    fail(state, key + ": " + contender + " differs from " + it->second.first + " (must be equal)", on);
}

}  // namespace dq::bench
