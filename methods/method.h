#pragma once
// The selection-method contract (docs: methods/README.md). A method sees one class at a time in
// embedding space and returns an ordered list of dataset ids plus, per pick, the fraction of the
// image it keeps (1 - patch-drop ratio). Methods that need all classes at once (global bin sizes,
// class budgets) override select_all.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/memory_budget.h"
#include "core/params.h"
#include "core/stage_timer.h"

namespace dq {

struct ImageSet;

// One class of the training set. Row i of z (d floats) is the embedding of dataset sample ids[i].
struct ClassView {
  int64_t label = 0;
  std::span<const int64_t> ids;
  const float* z = nullptr;
  int64_t d = 0;
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
  const float* row(int64_t i) const { return z + i * d; }
};

// Optional inputs some methods need beyond embeddings.
struct Services {
  const ImageSet* train_images = nullptr;  // ADQ's texture level, patch dropping
  std::string cache_dir;                   // where methods may cache artefacts (bins, KNN graphs)
  std::string embedding_key;               // identity of the embeddings, for those caches
  // The largest neighbour count k that any cell of this experiment with the same dataset, method
  // and search mode asks of these embeddings (0: unknown). With a cache, BGFDQ builds its exact KNN
  // graph at this k once and serves every smaller k of a K sweep as a prefix (methods/knn/knn.h).
  int64_t knn_sweep_k = 0;
  // For methods that run outside this process (methods/external.cpp): a folder private to this cell
  // (empty outside cells: such a method makes its own), the moment the cell's timeout passes, and
  // a sink for strings that belong to the cell's provenance (command, script hash, log path), stored
  // at once so that they survive the cell being killed (null outside cells).
  std::string work_dir{};
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::function<void(const std::string& name, const std::string& value)> note{};
};

struct SelectContext {
  double ratio = 0;        // target storage ratio rho in (0, 1] (the paper's weighted definition)
  uint64_t seed = 0;       // derived from the cell, never from the clock
  MemoryBudget& memory;    // large buffers reserve here first; over budget -> dq::OutOfMemory
  StageTimer& timer;       // sub-stage times: "bin_generation", "neighbour_id", ...
  Services services;
};

struct ClassSelection {
  std::vector<int64_t> ids;                 // dataset ids, in priority (pick) order
  std::vector<float> keep;                  // per pick, kept fraction w_i in (0, 1]; same length as ids
  std::map<std::string, double> diagnostics;  // e.g. "refills", "lambda_c"
  // Bin-based methods (DQ family): dataset ids of each bin, bins in generation order, ids in pick
  // order. Empty for methods without bins. `dqbench select --bins-out` writes these.
  std::vector<std::vector<int64_t>> bins;
  // Semantic-offset patch dropping (BGFDQ w/ SPD, methods/spd.h): when `spd` is set, `ids` is a
  // candidate priority order longer than needed (keep 1), and the patch stage stores its prefix whose
  // kept fractions reach `spd_budget` images, each at the largest theta whose semantic offset stays
  // below `spd_threshold`.
  bool spd = false;
  double spd_threshold = 0;
  double spd_budget = 0;
};

class SelectionMethod {
 public:
  virtual ~SelectionMethod() = default;
  virtual ClassSelection select(const ClassView& cls, SelectContext& ctx) = 0;
  // Default: each class independently, with a per-class seed derived from ctx.seed and the label.
  virtual std::vector<ClassSelection> select_all(std::span<const ClassView> classes, SelectContext& ctx);
  // Methods that do not look at embeddings (Random) let the runner skip the embedding stage.
  virtual bool needs_embeddings() const { return true; }
  // Bin-based methods fill ClassSelection::bins and say so here, so that a request for bins
  // (`dqbench select --bins-out`) is refused before any work when the method has none.
  virtual bool produces_bins() const { return false; }
  // Methods that read pixels through Services::train_images (ADQ's texture level) say so here, so
  // that embedding-only input is refused before any work.
  virtual bool needs_images() const { return false; }
};

// Rounding used for every per-class budget: half away from zero, as C's llround. (DQ's Python code
// rounds half to even; the difference is at most one sample per class and only at exact halves.)
int64_t budget_count(double ratio, int64_t class_size, double drop_ratio = 0.0);

struct MethodInfo {
  std::string name;
  std::string description;
  std::vector<ParamSpec> params;
  std::unique_ptr<SelectionMethod> (*make)(const Params&);
  // Optional: how tables and progress lines name a configured instance ("mine(alpha=0.5)" for an
  // external command labelled "mine"); null: the canonical spec.
  std::string (*display)(const Params&) = nullptr;
  // The shared library that registered the method (harness/plugin_loader.cpp); empty: built in.
  std::string library{};
};

class MethodRegistry {
 public:
  static MethodRegistry& instance();
  void add(MethodInfo info);
  const MethodInfo& find(const std::string& name, const std::string& where) const;  // dq::Error if unknown
  std::vector<const MethodInfo*> list() const;

  // While a plugin library loads (harness/plugin_loader.cpp), the methods it registers are tagged
  // with its path, and a name already taken is set aside as a conflict instead of aborting.
  struct PluginLoad {
    std::vector<std::string> added, conflicts;
  };
  void begin_plugin(const std::string& library);
  PluginLoad end_plugin();

 private:
  std::map<std::string, MethodInfo> methods_;
  std::string loading_library_;
  PluginLoad loading_;
};

// A method with its validated parameters, parsed from "bgfdq(k=20,alpha=1)" or built from YAML.
struct MethodSpec {
  std::string name;
  Params params;
  std::string canonical() const;  // "bgfdq(alpha=1,k=20,...)" with every parameter, sorted
  std::unique_ptr<SelectionMethod> instantiate() const;
  std::string display() const;    // MethodInfo::display, or canonical()
};
MethodSpec parse_method_spec(const std::string& text, const std::string& where);

namespace detail {
struct MethodRegistrar {
  explicit MethodRegistrar(MethodInfo (*make)()) { MethodRegistry::instance().add(make()); }
};
}  // namespace detail

}  // namespace dq

// In a method's .cpp, once: DQ_REGISTER_METHOD(make_random_info); where make_random_info returns a
// MethodInfo.
#define DQ_REGISTER_METHOD(make_fn) \
  static const ::dq::detail::MethodRegistrar dq_method_registrar_##make_fn(&make_fn)
