#pragma once
// The selection-method contract (docs: methods/README.md). A method sees one class at a time in
// embedding space and returns an ordered list of dataset ids plus, per pick, the fraction of the
// image it keeps (1 - patch-drop ratio). Methods that need all classes at once (global bin sizes,
// class budgets) override select_all.
#include <cstdint>
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
};

class MethodRegistry {
 public:
  static MethodRegistry& instance();
  void add(MethodInfo info);
  const MethodInfo& find(const std::string& name, const std::string& where) const;  // dq::Error if unknown
  std::vector<const MethodInfo*> list() const;

 private:
  std::map<std::string, MethodInfo> methods_;
};

// A method with its validated parameters, parsed from "bgfdq(k=20,alpha=1)" or built from YAML.
struct MethodSpec {
  std::string name;
  Params params;
  std::string canonical() const;  // "bgfdq(alpha=1,k=20,...)" with every parameter, sorted
  std::unique_ptr<SelectionMethod> instantiate() const;
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
