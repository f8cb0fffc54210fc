#pragma once
// The stages of one cell (harness/run_cell.cpp runs them in order), each a function that returns the
// metrics of its stage; and `dqbench verify`'s guard of a cell's upstream artefacts. Internal to
// harness/: LibTorch-free (the networks are reached through models/models_library.h).
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/memory_budget.h"
#include "core/stage_timer.h"
#include "datasets/dataset.h"
#include "harness/cell_artefacts.h"
#include "harness/experiment.h"
#include "harness/run_cell.h"
#include "harness/store.h"
#include "methods/class_partition.h"
#include "methods/selection_step.h"
#include "models/models.h"

namespace dq {

// `dqbench verify`'s guard (CellRunOptions::expected_inputs): the cell may use an upstream artefact only
// as recorded.
class ExpectedInputs {
 public:
  explicit ExpectedInputs(const std::vector<CellArtefact>& expected) {
    for (const auto& a : expected) by_kind_[a.kind] = a;
  }
  bool active() const { return !by_kind_.empty(); }
  const CellArtefact* find(const std::string& kind) const {
    auto it = by_kind_.find(kind);
    return it == by_kind_.end() ? nullptr : &it->second;
  }
  // Throws unless the recorded `kind` (if any) has this key and content hash (empty: not compared).
  void check(const std::string& kind, const std::string& key, const std::string& sha256) const {
    const CellArtefact* a = find(kind);
    if (!a) return;
    if (!key.empty() && !a->key.empty() && key != a->key)
      throw Error(fmt::format("input {}: this build and data make key {}, the cell used {} (another producer code "
                              "identity or other inputs)",
                              kind, short_hash(key), short_hash(a->key)));
    if (!sha256.empty() && sha256 != a->sha256)
      throw Error(fmt::format("input {}: here it hashes to {}, the cell used {}", kind, short_hash(sha256),
                              short_hash(a->sha256)));
  }
  // Throws unless `path` exists (the recorded artefact is in the cache).
  void require_file(const std::string& kind, const std::string& path) const {
    const CellArtefact* a = find(kind);
    if (!a) return;
    std::error_code ec;
    if (path.empty() || !std::filesystem::exists(path, ec))
      throw Error(fmt::format("input {}: artefact {} {} not in cache", kind, kind, short_hash(a->sha256)));
  }

 private:
  std::map<std::string, CellArtefact> by_kind_;
};

// The stages of one cell, in order: dataset -> embed -> select -> patches -> metrics -> train. Each is
// one function that runs its stage under the timer, stores what it made (the selection, the patch
// masks, the artefacts it used) and returns the metrics of its stage, which run_cell records with the
// stage's time before anything that may still fail the cell (verify's checks of the inputs).
class CellStages {
 public:
  CellStages(const Experiment& ex, const CellConfig& cell, Store& store, const CellRunOptions& options,
             const std::string& id, MemoryBudget& memory, StageTimer& timer,
             std::chrono::steady_clock::time_point deadline, std::function<void(const std::string&)> say)
      : expected(options.expected_inputs), ex_(ex), cell_(cell), store_(store), id_(id), memory_(memory),
        timer_(timer), deadline_(deadline), say_(std::move(say)) {}

  // verify's guard of the inputs; what the cell used, recorded after each stage (a cell that fails
  // later still shows what it read); which stages ran (the producers in its provenance).
  const ExpectedInputs expected;
  ArtefactLog artefacts;
  CellStagesRun stages_run;

  // Writes every timer record not yet written (sub-stages finish before their parent), `metrics` with
  // the last.
  void record(const std::map<std::string, double>& metrics);

  void record_artefacts() { store_.record_cell_artefacts(id_, artefacts.records()); }

  // 1. dataset
  std::map<std::string, double> dataset(Dataset& dataset);

  // 2. embed (the cell has an extractor)
  std::map<std::string, double> embed(const Dataset& dataset, Embeddings& embeddings);

  // 3. select: the method's picks, stored as the cell's selection (and its bins).
  std::map<std::string, double> select(const Dataset& dataset, const Embeddings& embeddings, SelectionMethod& method,
                                       const ClassPartition& classes, Selection& selection);

  // 4. patches: ranking, SPD, dropping, reconstruction. What a cell stores is what it trains on: the
  // stored selection becomes the applied one, and `coreset_images` the images it trains on. Runs for
  // an SPD order, or kept fractions below 1 on images that will be trained on; nullopt otherwise.
  std::optional<std::map<std::string, double>> patches(const Dataset& dataset, const Embeddings& embeddings,
                                                       Selection& selection, std::optional<ImageSet>& coreset_images);

  // 5. coverage and redundancy of the selection in embedding space
  std::map<std::string, double> metrics(const ClassPartition& classes, const Selection& selection);

  // 6. train + eval (the cell has a recipe, the dataset images and a test split)
  std::map<std::string, double> train(const Dataset& dataset, const Selection& selection,
                                      std::optional<ImageSet>& coreset_images);

 private:
  const Experiment& ex_;
  const CellConfig& cell_;
  Store& store_;
  const std::string& id_;
  MemoryBudget& memory_;
  StageTimer& timer_;
  std::chrono::steady_clock::time_point deadline_;
  std::function<void(const std::string&)> say_;
  size_t recorded_ = 0;
};

}  // namespace dq
