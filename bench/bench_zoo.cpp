// The benchmarks' data: the zoo's members through the synthetic_embeddings kind, and the real
// embeddings of DQ_BENCH_EMBEDDINGS / DQ_BENCH_LABELS (bench/bench_zoo.h).
#include "bench/bench_zoo.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <numeric>
#include <tuple>

#include "core/error.h"
#include "core/npy.h"
#include "core/params.h"
#include "core/rng.h"
#include "datasets/dataset.h"
#include "datasets/embedding_zoo.h"
#include "methods/dq_common.h"

namespace dq::bench {
namespace {

struct LabelledRows {
  std::vector<float> z;      // rows regrouped class by class, in label order
  std::vector<int64_t> ids;  // original row ids, in the same order
  std::vector<ClassView> views;
};

bool real_set() { return std::getenv("DQ_BENCH_EMBEDDINGS") && std::getenv("DQ_BENCH_LABELS"); }

const LabelledRows& real_embeddings() {
  static const LabelledRows rows = [] {
    const std::string zpath = std::getenv("DQ_BENCH_EMBEDDINGS"), ypath = std::getenv("DQ_BENCH_LABELS");
    const NpyArray za = read_npy(zpath);
    const std::vector<float> z = za.as_float32(zpath);
    const std::vector<int64_t> y = read_npy(ypath).as_int64(ypath);
    const int64_t n = za.shape.at(0), d = za.shape.at(1);
    if (static_cast<int64_t>(y.size()) != n) throw Error(ypath + ": labels do not match the embeddings' rows");
    LabelledRows out;
    out.ids.resize(static_cast<size_t>(n));
    std::iota(out.ids.begin(), out.ids.end(), 0);
    std::stable_sort(out.ids.begin(), out.ids.end(), [&](int64_t a, int64_t b) { return y[a] < y[b]; });
    out.z.resize(static_cast<size_t>(n * d));
    for (int64_t i = 0; i < n; ++i) std::copy_n(z.data() + out.ids[i] * d, d, out.z.data() + i * d);
    for (int64_t begin = 0; begin < n;) {
      int64_t end = begin;
      while (end < n && y[out.ids[end]] == y[out.ids[begin]]) ++end;
      out.views.push_back(ClassView{y[out.ids[begin]], std::span<const int64_t>(out.ids.data() + begin, static_cast<size_t>(end - begin)),
                                    out.z.data() + begin * d, d});
      begin = end;
    }
    return out;
  }();
  return rows;
}

std::map<std::tuple<int, int64_t, int64_t, int64_t>, Dataset>& generated() {
  static std::map<std::tuple<int, int64_t, int64_t, int64_t>, Dataset> cache;
  return cache;
}

const Dataset& synthetic(int member, int64_t classes, int64_t per_class, int64_t dim) {
  auto& cache = generated();
  const auto key = std::make_tuple(member, classes, per_class, dim);
  auto it = cache.find(key);
  if (it == cache.end()) {
    const auto& info = DatasetRegistry::instance().find("synthetic_embeddings", "bench");
    Params p("dataset", info.params);
    for (const auto& [k, v] : zoo_params(embedding_zoo().at(static_cast<size_t>(member)), classes, per_class, dim))
      p.set_from_text(k, v, "bench zoo");
    it = cache.emplace(key, info.load(p)).first;
  }
  return it->second;
}

// Ids 0..n-1 for the synthetic classes' views.
const std::vector<int64_t>& iota_ids(int64_t n) {
  static std::vector<int64_t> ids;
  if (static_cast<int64_t>(ids.size()) < n) {
    ids.resize(static_cast<size_t>(n));
    std::iota(ids.begin(), ids.end(), 0);
  }
  return ids;
}

}  // namespace

int zoo_members() { return static_cast<int>(embedding_zoo().size()) + (real_set() ? 1 : 0); }
int zoo_real() { return real_set() ? static_cast<int>(embedding_zoo().size()) : -1; }

std::string zoo_name(int member) {
  if (member == zoo_real()) return std::string("real:") + std::getenv("DQ_BENCH_EMBEDDINGS");
  return embedding_zoo().at(static_cast<size_t>(member)).name;
}

RowMatrix zoo_class(int member, int64_t m, int64_t dim) {
  if (member == zoo_real()) {
    const ClassView& c = real_embeddings().views.front();
    if (c.size() < m) throw Error("real embeddings: class " + std::to_string(c.label) + " has " + std::to_string(c.size()) +
                                  " rows, the benchmark asks for " + std::to_string(m));
    if (dim != 0 && dim != c.d) throw Error("real embeddings have d = " + std::to_string(c.d));
    return RowMatrix{c.z, m, c.d};
  }
  const Dataset& d = synthetic(member, 1, m, dim);
  return RowMatrix{d.train_features.data(), m, d.feature_dim};
}

std::vector<ClassView> zoo_classes(int member, int64_t classes, int64_t per_class, int64_t dim) {
  if (member == zoo_real()) return real_embeddings().views;
  const Dataset& d = synthetic(member, classes, per_class, dim);
  const std::vector<int64_t>& ids = iota_ids(classes * per_class);
  std::vector<ClassView> views;
  for (int64_t c = 0; c < classes; ++c)
    views.push_back(ClassView{c, std::span<const int64_t>(ids.data() + c * per_class, static_cast<size_t>(per_class)),
                              d.train_features.data() + c * per_class * d.feature_dim, d.feature_dim});
  return views;
}

void release_zoo() { generated().clear(); }

void apply_per_member(benchmark::internal::Benchmark* b, const std::vector<std::vector<int64_t>>& args, bool rows_first) {
  for (int member = 0; member < zoo_members(); ++member)
    for (size_t t = 0; t < args.size(); ++t) {
      std::vector<int64_t> a = args[t];
      if (member == zoo_real()) {
        if (!rows_first && t > 0) continue;
        if (rows_first && !a.empty() && a.front() > real_embeddings().views.front().size()) continue;
      }
      a.push_back(member);
      b->Args(a);
    }
}

void Contender::report(benchmark::State& state, const std::string& name) const {
  state.counters[name + "_s"] = wall;
  state.counters[name + "_cpu_s"] = cpu;
}

std::string blas_kernel() {
  using CoreName = char* (*)();
  if (auto name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) return name();
  return "not OpenBLAS";
}

double load_average() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : -1.0;
}

std::vector<ClassSelection> select_classes(const std::string& spec, const std::vector<ClassView>& classes,
                                           MemoryBudget& memory, const CellResources& resources, double ratio) {
  auto method = parse_method_spec(spec, "bench").instantiate();
  StageTimer timer;
  SelectContext ctx{ratio, 0, memory, timer, resources};
  return method->select(classes, ctx);
}

std::vector<int64_t> spread_sample(int64_t m, int64_t count, int64_t offset) {
  std::vector<int64_t> sample(static_cast<size_t>(std::min(m, count)));
  for (size_t s = 0; s < sample.size(); ++s) sample[s] = (static_cast<int64_t>(s) * 7919 + offset) % m;
  return sample;
}

RecallEstimate held_out_recall(RowMatrix z, const NeighbourLists& lists, MemoryBudget& memory, int64_t count,
                               std::span<const int64_t> searched_sample) {
  std::vector<char> searched(static_cast<size_t>(z.rows), 0);
  for (int64_t i : searched_sample) searched[static_cast<size_t>(i)] = 1;
  std::vector<int64_t> others;
  for (int64_t i = 0; i < z.rows; ++i)
    if (!searched[static_cast<size_t>(i)]) others.push_back(i);
  if (static_cast<int64_t>(others.size()) < count)
    throw Error(fmt::format("held-out recall: {} rows asked for, {} outside the search's sample", count, others.size()));
  Rng rng(0x686F6C646F7574ULL);
  std::vector<int64_t> held_out = uniform_sample(others, count, rng);
  std::sort(held_out.begin(), held_out.end());
  return recall_estimate_at_k(z, lists, held_out, {20, 256ull << 20}, memory);
}

double sampled_recall(RowMatrix z, const NeighbourLists& lists, MemoryBudget& memory, int64_t count) {
  return recall_at_k(z, lists, spread_sample(z.rows, count, 3), {20, 256ull << 20}, memory);
}

void report_search(benchmark::State& state, const ApproximateReport& r, Nomination nomination) {
  state.counters["sample_recall"] = r.recall;  // on the search's own recall sample (the target is 0.99)
  state.counters["nprobe"] = static_cast<double>(r.nprobe);
  state.counters["rounds"] = static_cast<double>(r.rounds);
  state.counters["refine_rounds"] = static_cast<double>(r.refine_rounds);
  state.counters["exact_fallback"] = r.exact_fallback;
  state.counters["cells"] = static_cast<double>(r.cells);
  state.counters["largest_cell"] = static_cast<double>(r.largest_cell);
  state.counters["work_ratio"] = r.work_ratio;
  state.counters["bf16"] = nomination == Nomination::Bf16;
}

}  // namespace dq::bench
