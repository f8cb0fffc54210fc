#include "harness/select_command.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <new>

#include "core/embedding_check.h"
#include "core/error.h"
#include "core/units.h"
#include "core/hashing.h"
#include "core/npy.h"
#include "core/output_files.h"
#include "core/stage_timer.h"
#include "methods/class_partition.h"
#include "methods/method.h"
#include "methods/metrics.h"
#include "methods/selection_step.h"

namespace dq {
namespace {

struct Inputs {
  ClassPartition classes;  // views carry the user's labels
  int64_t n = 0, d = 0;
};

Inputs load_inputs(const SelectOptions& o, MemoryBudget& memory) {
  std::vector<float> flat;
  std::vector<int64_t> labels;
  Inputs in;
  {  // the raw file bytes go out of scope once converted
    const NpyArray z = read_npy(o.embeddings);
    if (z.shape.size() != 2 || z.shape[0] < 1 || z.shape[1] < 1)
      throw Error(fmt::format("{}: embeddings must be a 2-D array N x d with N, d >= 1, found shape ({})", o.embeddings,
                              fmt::join(z.shape, ", ")));
    const NpyArray y = read_npy(o.labels);
    const bool column = y.shape.size() == 2 && y.shape[1] == 1;
    if (y.shape.size() != 1 && !column)
      throw Error(fmt::format("{}: labels must be a 1-D array (N,), found shape ({})", o.labels, fmt::join(y.shape, ", ")));
    if (y.shape[0] != z.shape[0])
      throw Error(fmt::format("{}: {} labels for {} embedding rows in {}", o.labels, y.shape[0], z.shape[0], o.embeddings));
    labels = y.as_int64(o.labels);
    check_embeddings(z, {o.embeddings, labels});  // the one finiteness check, before any conversion
    flat = z.as_float32(o.embeddings);
    in.n = z.shape[0];
    in.d = z.shape[1];
  }
  // Any integer labels: classes are the distinct values in ascending order.
  std::vector<int64_t> values = labels;
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  for (auto& y : labels) y = std::lower_bound(values.begin(), values.end(), y) - values.begin();
  auto reservation = memory.reserve(static_cast<uint64_t>(in.n * in.d) * sizeof(float), "class-grouped embeddings");
  reservation.release();  // only checks that the inputs fit; they live for the whole command
  in.classes = partition_by_class(flat.data(), in.d, labels, static_cast<int64_t>(values.size()));
  for (auto& view : in.classes.views) view.label = values[static_cast<size_t>(view.label)];
  return in;
}

void write_bins(const std::string& path, const std::vector<ClassSelection>& selections) {
  size_t rows = 0, width = 0;
  for (const auto& s : selections)
    for (const auto& bin : s.bins) {
      ++rows;
      width = std::max(width, bin.size());
    }
  DQ_ASSERT(rows > 0, "a method that declares produces_bins() returned no bins");
  std::vector<int64_t> table(rows * width, -1);
  size_t r = 0;
  for (const auto& s : selections)
    for (const auto& bin : s.bins) std::copy(bin.begin(), bin.end(), table.begin() + static_cast<std::ptrdiff_t>(r++ * width));
  write_npy(path, table.data(), {static_cast<int64_t>(rows), static_cast<int64_t>(width)});
}

// Stage records summed by name (a per-class sub-stage appears once per class).
void print_stages(std::ostream& out, const StageTimer& timer) {
  struct Total {
    double wall = 0, cpu = 0;
    int64_t peak = 0, count = 0;
  };
  std::vector<std::string> order;
  std::map<std::string, Total> totals;
  for (const auto& r : timer.records()) {
    if (!totals.count(r.name)) order.push_back(r.name);
    Total& t = totals[r.name];
    t.wall += r.wall_s;
    t.cpu += r.cpu_s;
    t.peak = std::max(t.peak, r.peak_rss_bytes);
    ++t.count;
  }
  fmt::print(out, "{:<42} {:>10} {:>10} {:>12}\n", "stage", "wall_s", "cpu_s", "peak_rss");
  for (const auto& name : order) {
    const Total& t = totals[name];
    const std::string label = t.count > 1 ? fmt::format("{} (x{})", name, t.count) : name;
    fmt::print(out, "{:<42} {:>10.3f} {:>10.3f} {:>12}\n", label, t.wall, t.cpu, format_bytes(static_cast<uint64_t>(t.peak)));
  }
}

void print_diagnostics(std::ostream& out, const std::vector<ClassView>& classes, const std::vector<ClassSelection>& sel) {
  std::vector<std::string> keys;
  for (const auto& s : sel)
    for (const auto& [k, _] : s.diagnostics)
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  if (keys.empty()) return;
  std::sort(keys.begin(), keys.end());
  fmt::print(out, "diagnostics (over classes: mean [min, max])\n");
  for (const auto& k : keys) {
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    int64_t count = 0;
    for (const auto& s : sel)
      if (auto it = s.diagnostics.find(k); it != s.diagnostics.end()) {
        sum += it->second;
        lo = std::min(lo, it->second);
        hi = std::max(hi, it->second);
        ++count;
      }
    fmt::print(out, "  {:<24} {:.6g} [{:.6g}, {:.6g}]\n", k, sum / static_cast<double>(count), lo, hi);
  }
  if (classes.size() > 20) return;  // per-class lines only where they stay readable
  for (size_t c = 0; c < classes.size(); ++c) {
    std::string line = fmt::format("  class {:>6} ({} samples, {} picked):", classes[c].label, classes[c].size(), sel[c].ids.size());
    for (const auto& [k, v] : sel[c].diagnostics) line += fmt::format(" {}={:.6g}", k, v);
    fmt::print(out, "{}\n", line);
  }
}

// The registered methods that produce bins, for the message that refuses --bins-out.
std::string methods_with_bins() {
  std::string out;
  for (const MethodInfo* info : MethodRegistry::instance().list()) {
    try {
      if (info->make(Params(info->name, info->params))->produces_bins()) out += (out.empty() ? "" : ", ") + info->name;
    } catch (const Error&) {
      // a method that cannot be built with its defaults is left out of the list
    }
  }
  return out;
}

int run(const SelectOptions& o, std::ostream& out) {
  // Every option, and every combination of them, is checked here, before any input is read.
  if (!(o.ratio > 0 && o.ratio <= 1)) throw Error(fmt::format("--ratio {} is outside (0, 1]", o.ratio));
  if (o.out.empty()) throw Error("--out is required (where the selected ids go)");
  const MethodSpec spec = parse_method_spec(o.method, "--method");
  auto method = spec.instantiate();
  if (!o.bins_out.empty() && !method->produces_bins())
    throw Error(fmt::format("--bins-out {}: method '{}' produces no bins (methods with bins: {})", o.bins_out,
                            spec.name, methods_with_bins()));
  if (method->needs_images())
    throw Error(fmt::format("--method {}: method '{}' needs the training images; `dqbench select` has embeddings "
                            "only (run it from an experiment whose dataset has images)",
                            o.method, spec.name));
  MemoryBudget memory(o.memory_budget.empty() ? physical_memory_bytes() : parse_bytes(o.memory_budget, "--memory-budget"));
  // Outputs go to temporaries, renamed into place only when all are written: a failure leaves none.
  const std::vector<std::pair<std::string, std::string>> inputs = {{"--embeddings", o.embeddings},
                                                                   {"--labels", o.labels}};
  OutputFiles outputs;
  const std::string out_tmp = outputs.add("--out", o.out, inputs);
  const std::string keep_tmp = o.keep_out.empty() ? "" : outputs.add("--keep-out", o.keep_out, inputs);
  const std::string bins_tmp = o.bins_out.empty() ? "" : outputs.add("--bins-out", o.bins_out, inputs);
  StageTimer timer;
  Inputs in;
  {
    auto stage = timer.scope("load");
    in = load_inputs(o, memory);
  }
  CellResources resources;
  if (!o.cache_dir.empty()) {
    resources.cache_dir = o.cache_dir;
    resources.embedding_key = sha256_file_hex(o.embeddings);
  }
  const Selection selection = run_selection(
      *method, in.classes.views, {.ratio = o.ratio, .seed = o.seed, .memory = memory, .timer = timer, .resources = resources});
  const std::vector<ClassSelection>& selections = selection.classes;
  const std::vector<int64_t>& ids = selection.ids;
  const std::vector<float>& keep = selection.keep;
  std::map<std::string, double> metrics;
  {
    auto stage = timer.scope("metrics");
    metrics = selection_metrics(in.classes.views, selections, memory);
  }
  write_npy(out_tmp, ids.data(), {static_cast<int64_t>(ids.size())});
  if (!keep_tmp.empty()) write_npy(keep_tmp, keep.data(), {static_cast<int64_t>(keep.size())});
  if (!bins_tmp.empty()) write_bins(bins_tmp, selections);
  outputs.commit();

  fmt::print(out, "method {}\n", spec.canonical());
  fmt::print(out, "{} samples x {} dims, {} classes, ratio {}, seed {}, memory budget {} (peak declared {})\n", in.n, in.d,
             in.classes.views.size(), o.ratio, o.seed, format_bytes(memory.limit()), format_bytes(memory.peak()));
  fmt::print(out, "selected {} -> {}\n", ids.size(), o.out);
  print_stages(out, timer);
  fmt::print(out, "metrics\n");
  for (const auto& [k, v] : metrics) fmt::print(out, "  {:<24} {:.6g}\n", k, v);
  print_diagnostics(out, in.classes.views, selections);
  return 0;
}

}  // namespace

int run_select(const SelectOptions& options, std::ostream& out, std::ostream& err) {
  try {
    return run(options, out);
  } catch (const OutOfMemory& e) {
    fmt::print(err, "dqbench select: out of memory budget: {}\n", e.what());
    return 3;
  } catch (const std::bad_alloc&) {
    fmt::print(err, "dqbench select: the machine ran out of memory (an allocation failed)\n");
    return 3;
  } catch (const Error& e) {
    fmt::print(err, "dqbench select: {}\n", e.what());
    return 2;
  }
}

void add_select_command(CLI::App& app) {
  auto o = std::make_shared<SelectOptions>();
  CLI::App* cmd = app.add_subcommand("select", "Run one selection method on .npy embeddings (no training)");
  cmd->add_option("--method", o->method, "method spec, e.g. \"bgfdq(k=20)\"")->required();
  cmd->add_option("--embeddings", o->embeddings, "N x d float32/float64 .npy")->required();
  cmd->add_option("--labels", o->labels, "N integer labels .npy")->required();
  cmd->add_option("--ratio", o->ratio, "target ratio in (0, 1]")->required();
  cmd->add_option("--out", o->out, "selected ids (.npy, int64; classes in label order, pick order)")->required();
  cmd->add_option("--seed", o->seed, "selection seed")->capture_default_str();
  cmd->add_option("--keep-out", o->keep_out, "kept fraction of each selected sample (.npy, float32)");
  cmd->add_option("--bins-out", o->bins_out, "bins of bin-based methods (.npy, int64, -1 padded)");
  cmd->add_option("--memory-budget", o->memory_budget, "e.g. 12GiB (default: physical memory)");
  cmd->add_option("--cache-dir", o->cache_dir, "cache for KNN graphs and bins");
  cmd->callback([o]() {
    const int status = run_select(*o, std::cout, std::cerr);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace dq
