#pragma once
// The selection-method contract (docs: methods/README.md). A method sees the classes of the
// training set in embedding space and returns, per class, an ordered list of dataset ids plus, per
// pick, the fraction of the image it keeps (1 - patch-drop ratio). Most methods treat each class
// on its own (PerClassMethod); some need all classes at once (class budgets, global bin scores).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/content_hash.h"
#include "core/memory_budget.h"
#include "core/params.h"
#include "core/registry.h"
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

// What the cell provides a method beyond its embeddings: the training images, a cache folder for
// artefacts keyed by the embeddings' content hash, a sink for the artefacts it used, and, for methods
// that run outside this process (methods/external.cpp), a private folder, the deadline and a sink
// for provenance strings.
struct CellResources {
  const ImageSet* train_images = nullptr;  // ADQ's texture level, patch dropping; null: features only
  std::string cache_dir;                   // where methods may cache artefacts (bins, KNN graphs)
  // sha256 of the embeddings' bytes (Embeddings::sha256): what those caches key on, with their
  // producer's code identity (core/code_identity.h). Empty: no caching.
  std::string embedding_key;
  // Where a method reports each artefact it read or built (one per class for KNN graphs and bins),
  // for the cell's record (core/content_hash.h). Null: nobody records.
  std::function<void(const ArtefactUse&)> artefact{};
  // The largest neighbour count k that any cell of this experiment with the same dataset, method
  // and search mode asks of these embeddings (0: unknown). With a cache, BGFDQ builds its exact KNN
  // graph at this k once and serves every smaller k of a K sweep as a prefix (methods/knn/knn.h).
  int64_t knn_sweep_k = 0;
  // The LibTorch device the cell's networks run on, after `auto` is resolved ("cuda:0"; empty: the
  // CPU). BGFDQ computes its exact KNN graph there (methods/knn/device_search.h), the same graph.
  std::string device{};
  // A folder private to this cell (empty outside cells: such a method makes its own), the moment
  // the cell's timeout passes, and a sink for strings that belong to the cell's provenance (command,
  // script hash, log path), stored at once so that they survive the cell being killed (null outside
  // cells).
  std::string work_dir{};
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::function<void(const std::string& name, const std::string& value)> note{};
};

// What a method receives with the classes; it cannot change it. The memory budget and the stage
// timer are shared with the caller (reservations and sub-stage records are the method's output).
struct SelectContext {
  double ratio = 0;      // target storage ratio rho in (0, 1] (the paper's weighted definition)
  uint64_t seed = 0;     // the cell's selection seed (never from the clock); PerClassMethod hands each
                         // class derive_seed(seed, label)
  MemoryBudget& memory;  // large buffers reserve here first; over budget -> dq::OutOfMemory
  StageTimer& timer;     // sub-stages: "bin_generation", "neighbour_id", ...
  CellResources resources{};
};

// A method's request for semantic-offset patch dropping (BGFDQ w/ SPD, patching/spd.h): the patch stage
// stores the prefix of the selection's candidate order whose kept fractions reach `budget` images, each
// at the largest theta whose semantic offset ||f(x) - f(x_theta)||^2 stays below `threshold`.
struct SpdRequest {
  double threshold = 0;  // the class's offset bound: lambda_scale * lambda_C (squared embedding distance)
  double budget = 0;     // storage of the class in images: rho * M_c
};

struct ClassSelection {
  std::vector<int64_t> ids;                 // dataset ids, in priority (pick) order
  std::vector<float> keep;                  // per pick, kept fraction w_i in (0, 1]; same length as ids
  std::map<std::string, double> diagnostics;  // e.g. "refills", "lambda_c"
  // Bin-based methods (DQ family): dataset ids of each bin, bins in generation order, ids in pick
  // order. Empty for methods without bins. `dqbench select --bins-out` writes these.
  std::vector<std::vector<int64_t>> bins;
  // Set by a method that asks for semantic-offset patch dropping: `ids` is then a candidate priority
  // order longer than needed (keep 1), cut by the patch stage as the request says.
  std::optional<SpdRequest> spd;
  // Patch masks the method fixes itself (a coreset read from files, methods/indices.cpp): ids.size() x P
  // bytes, 1 = kept, row i for ids[i], P the cell's patch grid; keep[i] is row i's kept share. The patch
  // stage applies them as given instead of ranking patches. Empty: the patch stage chooses the masks.
  std::vector<uint8_t> masks;
  // For a candidate order (spd): the method's diagnostics of its first n picks, which replace those
  // of the whole order once the patch stage has cut it, so that a cell records the diagnostics of what
  // it stored. Null: the diagnostics do not depend on the length.
  std::function<std::map<std::string, double>(size_t n)> prefix_diagnostics{};
};

class SelectionMethod {
 public:
  virtual ~SelectionMethod() = default;
  // The one entry: every class of the training set (ascending labels), one ClassSelection per
  // class in the same order. Methods that treat classes independently derive from PerClassMethod.
  virtual std::vector<ClassSelection> select(std::span<const ClassView> classes, const SelectContext& ctx) = 0;
  // Methods that do not look at embeddings (Random) let the runner skip the embedding stage.
  virtual bool needs_embeddings() const { return true; }
  // Bin-based methods fill ClassSelection::bins and say so here, so that a request for bins
  // (`dqbench select --bins-out`) is refused before any work when the method has none.
  virtual bool produces_bins() const { return false; }
  // Methods that read pixels through CellResources::train_images (ADQ's texture level) say so here,
  // so that embedding-only input is refused before any work.
  virtual bool needs_images() const { return false; }
};

// Base of the methods that select in each class on its own: select() calls select_class once per
// class, in order, with the class's seed.
class PerClassMethod : public SelectionMethod {
 public:
  std::vector<ClassSelection> select(std::span<const ClassView> classes, const SelectContext& ctx) final;

 protected:
  // `seed` = derive_seed(ctx.seed, cls.label): the class's own, the only seed a class should use.
  virtual ClassSelection select_class(const ClassView& cls, uint64_t seed, const SelectContext& ctx) = 0;
};

// Rounding used for every per-class budget: half away from zero, as C's llround. (DQ's Python code
// rounds half to even; the difference is at most one sample per class and only at exact halves.)
int64_t budget_count(double ratio, int64_t class_size, double drop_ratio = 0.0);
// The most storage (in images: the sum of kept fractions) a class of `class_size` samples may hold at
// `ratio`: ratio * M_c, plus the half image that budget_count's rounding (and SPD's last pick) may add.
// A coreset read from files (methods/indices.cpp) is held to it, per class and in total.
double storage_budget(double ratio, int64_t class_size);

// The sizes a selection will run on, known before any data is loaded (`dqbench run --dry-run`,
// from DatasetLoaderInfo::sizes): M, the largest class's rows, d, the embedding width, and the size
// a shared artefact is built at (SharedArtefact::size, the largest of the cells sharing it; 0: the
// cell's own).
struct SelectionSizes {
  int64_t largest_class = 0;
  int64_t dim = 0;
  int64_t shared_size = 0;
};

// What a method reserves from its memory budget at its peak, in bytes, and the model the number
// comes from ("dense GraphCut 4*M^2 + 4*M*d"). bytes < 0: no estimate.
struct PeakBytes {
  int64_t bytes = -1;
  std::string model;
};

// An artefact that cells of one method and dataset share when their keys are equal: built once, at
// the largest `size` among them, and served to the smaller ones (BGFDQ's exact KNN graph: key the
// search mode, size k; a smaller k is a prefix of the lists).
struct SharedArtefact {
  std::string key;
  int64_t size = 0;
};

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
  // Optional: for a method that reads files named in its parameters (a coreset, methods/indices.cpp),
  // records their content in its parameters (a sha256) when the experiment is read, so that the cell
  // id names what the method reads, not only where. Throws dq::Error for a missing file or a content
  // that differs from a hash the experiment file already gives.
  void (*pin_inputs)(Params&) = nullptr;

  // What the harness asks a configured instance instead of guessing from parameter names; a plugin
  // declares them the same way (tests/example_method.cpp).
  // Whether it may return kept fractions below 1 (a patch-drop ratio, SPD, kept fractions read from
  // files): only then does the experiment's `patches:` section, which decides how those images are
  // cut, enter the cell id, and a cell whose method returns keep < 1 without declaring it fails
  // before anything is stored. Null: never (always_drops_patches: whatever its parameters).
  bool (*drops_patches)(const Params&) = nullptr;
  // Its peak memory for the given sizes (PeakBytes). Null: no estimate.
  PeakBytes (*peak_bytes)(const Params&, const SelectionSizes&) = nullptr;
  // The artefact it can share with other cells of a sweep (SharedArtefact). Null or nullopt: none.
  std::optional<SharedArtefact> (*shared_artefact)(const Params&) = nullptr;
};

// MethodInfo::drops_patches of a method with a fixed patch-drop ratio: the ratio is a parameter, so
// the patches section is part of every one of its cells (theta = 0 included).
inline bool always_drops_patches(const Params&) { return true; }

// The registry of methods (core/registry.h): built-in methods and loaded plugins.
using MethodRegistry = Registry<MethodInfo>;
template <>
MethodRegistry& MethodRegistry::instance();
extern template class Registry<MethodInfo>;

// What a built method says about itself (SelectionMethod::needs_embeddings, needs_images,
// produces_bins).
struct MethodTraits {
  bool needs_embeddings = true;
  bool needs_images = false;
  bool produces_bins = false;
};

// A method with its validated parameters, parsed from "bgfdq(k=20,alpha=1)" or built from YAML.
struct MethodSpec {
  std::string name;
  Params params;
  std::string canonical() const;  // "bgfdq(alpha=1,k=20,...)" with every parameter, sorted
  std::unique_ptr<SelectionMethod> instantiate() const;
  std::string display() const;    // MethodInfo::display, or canonical()
  void pin_inputs();              // MethodInfo::pin_inputs, if any
  // The built method's traits, building it only the first time for these parameters (the answer is
  // kept with the canonical spec it was for, and copies of a spec keep it): the experiment parser builds
  // each method once when it reads the file, and the harness then asks every cell of it without
  // building it again.
  MethodTraits traits() const;
  mutable std::optional<std::pair<std::string, MethodTraits>> traits_cache{};  // (canonical(), traits)
  // The capabilities MethodInfo declares (false, no estimate, nullopt where it declares none).
  bool drops_patches() const;
  PeakBytes peak_bytes(const SelectionSizes& sizes) const;
  std::optional<SharedArtefact> shared_artefact() const;
};
MethodSpec parse_method_spec(const std::string& text, const std::string& where);

}  // namespace dq

// In a method's .cpp, once: DQ_REGISTER_METHOD(make_random_info); where make_random_info returns a
// MethodInfo.
#define DQ_REGISTER_METHOD(make_fn) \
  static const ::dq::detail::Registrar<::dq::MethodInfo> dq_method_registrar_##make_fn(&make_fn)
