#pragma once
// An experiment file (experiments/*.yaml) parsed, validated and expanded into cells. Every key is
// checked before any cell runs: an unknown key, a wrong type, a ratio outside (0, 1], an unknown
// method or dataset is a dq::Error naming the file, line and key. Format: experiments/README.md.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/params.h"
#include "harness/dataset_definitions.h"
#include "methods/method.h"
#include "models/models.h"  // LibTorch-free: the recipe and extractor options
#include "patching/patch_stage.h"

namespace dq {

struct CellConfig {
  std::string experiment;
  DatasetDefinition dataset;  // from the `datasets:` section (harness/dataset_definitions.h)
  MethodSpec method;
  double ratio = 0;
  int64_t seed = 0;
  std::optional<ExtractorOptions> extractor;  // absent: no embeddings (methods that need them refuse)
  std::optional<TrainRecipe> train;           // absent: selection only (train: none)
  uint64_t memory_budget = 0;  // bytes, the experiment's memory_budget
  // The `patches:` section (patching/patch_stage.h); default values when the file has none.
  PatchOptions patches{};

  // Whether the method may store partial images, as it declares (MethodInfo::drops_patches): only
  // then do the patch options enter the cell's identity, so cells of other methods keep their ids.
  bool drops_patches() const { return method.drops_patches(); }
  // Canonical JSON of everything that determines the cell's result (sorted keys, no whitespace).
  std::string canonical_json() const;
  // sha256 of canonical_json(): the cell's identity in the database.
  std::string id() const;
  // Seeds derived from the cell (never from the clock). The selection seed depends on what the
  // selection sees (dataset, extractor, method, ratio, seed) so changing the training recipe does
  // not change the coreset. The training seed depends on the dataset, the recipe, the ratio and the
  // seed, not on the method: at one seed every method's network starts from the same weights and
  // draws its order and augmentations from the same stream (paired comparisons by seed), and a coreset
  // read back from files trains exactly as the cell that made it.
  uint64_t selection_seed() const;
  uint64_t training_seed() const;
  std::string label() const;  // short human form: "fmnist random r=0.1 s=0"
};

struct Experiment {
  std::string file;
  std::string name;
  std::string description;
  std::string yaml_text;
  std::string database;    // SQLite file (default results/<name>.db)
  std::string cache_dir;   // decoded datasets, embeddings, bins, KNN graphs (default cache)
  uint64_t memory_budget = 0;  // bytes per cell (`memory_budget: 12GiB`; default 3/4 of physical memory)
  double timeout_s = 0;        // seconds per cell (`timeout: 2h`; default 24 h)
  int64_t threads = 0;         // `threads:`; 0 = each cell gets its share of the cores (harness/README.md)
  std::vector<CellConfig> cells;  // the expanded matrix, in a stable order
};

// Reads and validates `path` (every key, every cell; see the file comment). Relative paths in it
// (database, cache_dir, dataset and TorchScript paths) are kept as written: they are relative to
// the current directory, not to the file (run dqbench from the repository root).
Experiment load_experiment(const std::string& path);

// The largest size of the artefact this cell's method declares it can share (MethodInfo::
// shared_artefact) among the experiment's cells with the same dataset, method and artefact key (0
// when it declares none): a bgfdq K sweep builds its exact KNN graph once, at the largest k of the
// cells with its search mode, whatever order they run in (CellResources::knn_sweep_k,
// methods/docs/bgfdq.md "K sweeps").
int64_t knn_sweep_k(const Experiment& ex, const CellConfig& cell);

}  // namespace dq
