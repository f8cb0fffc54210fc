#pragma once
// The data every neighbour-identification benchmark runs on (issue 24): each member of the zoo
// (datasets/embedding_zoo.h), generated through the synthetic_embeddings kind, and real embeddings
// when DQ_BENCH_EMBEDDINGS=Z.npy and DQ_BENCH_LABELS=y.npy are set (N x d float, N integer labels,
// e.g. an extractor's cached embeddings under <cache_dir>/embeddings/ and the labels that
// `dq_side_by_side dump` writes): member zoo_real() then, rows grouped by label. A benchmark takes the
// member index as an argument and names the member in its label.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/stage_timer.h"
#include "methods/knn/search.h"
#include "methods/method.h"

namespace dq::bench {

int zoo_members();             // synthetic members, plus one for real embeddings when they are set
int zoo_real();                // the index of the real member (-1 when not set)
std::string zoo_name(int member);

// One class of m rows of dimension dim (the real member: its first class's first m rows; dq::Error
// when it has fewer, or when dim differs from the file's, unless dim is 0 = the file's).
RowMatrix zoo_class(int member, int64_t m, int64_t dim);
// classes x per_class rows (the real member: its classes as they are; dim and sizes ignored).
std::vector<ClassView> zoo_classes(int member, int64_t classes, int64_t per_class, int64_t dim);
// Frees the generated data sets (the 200,000-row ones take 400 MB each).
void release_zoo();

// Each argument list once per member (the member appended): for ->Apply(). For the real member,
// lists whose first value (rows per class) exceeds its class size are left out, and with
// rows_first = false (the first value is a dimension its rows do not have) only the first list runs.
void apply_per_member(benchmark::internal::Benchmark* b, const std::vector<std::vector<int64_t>>& args,
                      bool rows_first = true);

// Measurement helpers shared by the NI benchmarks.
template <class F>
double seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
// One side of a side-by-side comparison: the fastest wall time and the smallest process CPU time of
// its runs (CPU seconds, all threads, move less with the load of a shared machine).
struct Contender {
  double wall = 1e300, cpu = 1e300;
  template <class F>
  void time(F&& f) {
    const double cpu0 = process_cpu_seconds();
    wall = std::min(wall, seconds(f));
    cpu = std::min(cpu, process_cpu_seconds() - cpu0);
  }
  void report(benchmark::State& state, const std::string& name) const;  // <name>_s and <name>_cpu_s
};
std::string blas_kernel();  // the kernel OpenBLAS picked (OPENBLAS_CORETYPE), so that numbers name it
double load_average();      // the 1-minute load average, so that numbers say how busy the machine was
// One whole selection (ratio, seed 0) through the method registry.
std::vector<ClassSelection> select_classes(const std::string& spec, const std::vector<ClassView>& classes,
                                           MemoryBudget& memory, const CellResources& resources = {}, double ratio = 0.2);
// `count` rows spread over [0, m): row (s * 7919 + offset) mod m, distinct while count <= m.
std::vector<int64_t> spread_sample(int64_t m, int64_t count, int64_t offset = 0);
// Recall@20 of `lists` (k = 20) with its standard error on `count` rows drawn at random (fixed seed)
// among those not in `searched_sample` (the search's own recall sample, e.g. dq::knn_recall_sample's
// rows for a class searched without duplicate reduction): the recall a user gets on rows the search
// never measured. dq::Error when fewer than `count` rows are left.
RecallEstimate held_out_recall(RowMatrix z, const NeighbourLists& lists, MemoryBudget& memory, int64_t count,
                               std::span<const int64_t> searched_sample);
// Recall@20 of `lists` on `count` rows spread over the class (spread_sample, offset 3).
double sampled_recall(RowMatrix z, const NeighbourLists& lists, MemoryBudget& memory, int64_t count = 500);
// An approximate search's report as counters: the recall it kept on its sample, nprobe, rounds, exact
// fallback, cells, the largest cell, the work ratio; and whether the tiles were bf16.
void report_search(benchmark::State& state, const ApproximateReport& r, Nomination nomination);

}  // namespace dq::bench
