#include "harness/run_cell.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <new>
#include <numeric>
#include <thread>

#include "core/error.h"
#include "core/hashing.h"
#include "core/memory_budget.h"
#include "core/rng.h"
#include "datasets/dataset.h"
#include "datasets/decode_cache.h"
#include "harness/cell_artefacts.h"
#include "harness/method_notes.h"
#include "harness/provenance.h"
#include "methods/class_partition.h"
#include "methods/method.h"
#include "methods/metrics.h"
#include "methods/patch_stage.h"
#include "methods/selection_step.h"
#include "models/models.h"
#include "models/models_library.h"

namespace dq {

namespace {

// Keeps the cell's heartbeat fresh from its own connection while long stages run.
class HeartbeatThread {
 public:
  HeartbeatThread(std::string db_path, std::string cell_id)
      : thread_([this, db = std::move(db_path), id = std::move(cell_id)] {
          try {
            Store store(db);
            std::unique_lock lock(mutex_);
            while (!stop_) {
              if (cv_.wait_for(lock, std::chrono::seconds(15), [this] { return stop_; })) break;
              store.heartbeat(id);
            }
          } catch (const std::exception&) {
            // A missed heartbeat only makes a crashed cell look stale sooner; never fail the cell.
          }
        }) {}
  ~HeartbeatThread() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The device a cell's exact KNN graph runs on: its extractor's (auto resolved), "" for the CPU. A
// selection-only cell (extractor kind none) never loads LibTorch to resolve `auto` (its KNN stays on the
// CPU); `device: cuda` there still searches on the GPU (methods/knn/device_search.cpp loads the library).
std::string knn_device(const CellConfig& cell) {
  if (!cell.extractor || !cell.extractor->has("device")) return "";
  const DeviceSpec device = parse_device(cell.extractor->get_string("device"), "extractor.device");
  if (device.kind == DeviceSpec::Kind::Auto && cell.extractor->get_string("kind") == "none") return "";
  return resolved_cuda_device(device);
}

// AddressSanitizer and ThreadSanitizer reserve terabytes of shadow address space at start: a cap at the
// budget would make their next mapping fail. Their builds (scripts/hardening.sh) run without the cap.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif
#else
constexpr bool kSanitizerBuild = false;
#endif

void apply_address_space_limit(uint64_t budget) {
  if (kSanitizerBuild) return;
  // Headroom for what no method declares: LibTorch, BLAS and OpenMP reserve address space far beyond
  // what they touch.
  const uint64_t headroom = 8ull << 30;
  rlimit lim{};
  lim.rlim_cur = lim.rlim_max = budget + headroom;
  setrlimit(RLIMIT_AS, &lim);
}

// Whether a selection cuts images: a kept fraction below 1, or an SPD candidate order.
bool cuts_images(const std::vector<ClassSelection>& selections) {
  for (const auto& s : selections)
    if (s.spd || std::any_of(s.keep.begin(), s.keep.end(), [](float w) { return w < 1.0f; })) return true;
  return false;
}

LoadedDataset load_cell_dataset(const Experiment& ex, const CellConfig& cell) {
  return load_dataset(cell.dataset.kind, cell.dataset.params, ex.cache_dir.empty() ? "" : ex.cache_dir + "/datasets",
                      fmt::format("{} dataset '{}'", ex.file, cell.dataset.name));
}

// Where a method's provenance strings go (CellResources::note): the method_notes table at once, and an
// external command's log also as an artefact. A plugin method's library and its sha256 go first.
std::function<void(const std::string&, const std::string&)> method_note_sink(Store& store, const std::string& id,
                                                                              const MethodSpec& spec) {
  clear_method_notes(store, id);
  auto sink = [&store, id](const std::string& name, const std::string& value) {
    record_method_note(store, id, name, value);
    if (name == "external_log") store.record_artefact(id + ":external_log", "external_log", value, -1);
  };
  const std::string& library = MethodRegistry::instance().find(spec.name, "method").library;
  if (!library.empty()) {
    sink("plugin_library", library);
    sink("plugin_library_sha256", sha256_file_hex(library));
  }
  return sink;
}

// The load average over the last minute (-1 when unknown).
double load_average_1min() {
  double load[1] = {-1};
  return getloadavg(load, 1) == 1 ? load[0] : -1;
}

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

// Means over classes of the selections' diagnostics ("diag_<name>_mean").
std::map<std::string, double> diagnostic_means(const std::vector<ClassSelection>& selections) {
  std::map<std::string, std::pair<double, int>> diag;
  for (const auto& s : selections)
    for (const auto& [k, v] : s.diagnostics) {
      diag[k].first += v;
      diag[k].second += 1;
    }
  std::map<std::string, double> m;
  for (const auto& [k, v] : diag) m["diag_" + k + "_mean"] = v.first / v.second;
  return m;
}

}  // namespace

CellStatus run_cell(const Experiment& ex, const CellConfig& cell, Store& store, const CellRunOptions& options) {
  const std::string id = cell.id();
  const std::string prefix = options.progress_prefix.empty() ? "" : options.progress_prefix + " ";
  auto say = [&](const std::string& msg) { std::cerr << prefix << msg << std::endl; };
  const double load_start = load_average_1min();
  store.start_cell(id);
  HeartbeatThread heartbeat(store.path(), id);
  if (options.hard_memory_limit) apply_address_space_limit(cell.memory_budget);

  int64_t threads = ex.threads;
  if (cell.train) threads = cell.train->get_int("threads");
  set_compute_threads(threads);

  MemoryBudget memory(cell.memory_budget);
  StageTimer timer;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                                std::chrono::duration<double>(ex.timeout_s));
  CellStatus status = CellStatus::Done;
  std::string error;
  std::map<std::string, double> oom_metrics;
  size_t recorded = 0;
  auto record_new_stages = [&](const std::map<std::string, double>& metrics) {
    // Sub-stages finish before their parent; write every record not yet written, metrics with the last.
    const auto& records = timer.records();
    for (; recorded < records.size(); ++recorded)
      store.record_stage(id, records[recorded], recorded + 1 == records.size() ? metrics : std::map<std::string, double>{});
  };
  // What the cell used, recorded after each stage (a cell that fails later still shows what it read).
  ArtefactLog artefacts;
  CellStagesRun stages_run;
  auto record_artefacts = [&] { store.record_cell_artefacts(id, artefacts.records()); };
  const ExpectedInputs expected(options.expected_inputs);

  try {
    // 1. dataset
    Dataset dataset;
    {
      auto scope = timer.scope("dataset");
      LoadedDataset loaded = load_cell_dataset(ex, cell);
      dataset = std::move(loaded.dataset);
      scope.stop();
      std::map<std::string, double> m = {{"train_samples", static_cast<double>(dataset.train.n)},
                                         {"test_samples", static_cast<double>(dataset.test.n)},
                                         {"dataset_from_cache", loaded.from_cache ? 1.0 : 0.0}};
      for (const auto& [k, v] : dataset.load_report) m["dataset_" + k] = v;
      record_new_stages(m);
      artefacts.add({.kind = "dataset",
                     .key = dataset.fingerprint.empty() ? "" : sha256_hex(dataset.fingerprint),
                     .sha256 = dataset.content_sha256,
                     .bytes = static_cast<int64_t>(dataset.train.pixels.size() + dataset.test.pixels.size() +
                                                   dataset.train_features.size() * sizeof(float)),
                     .from_cache = loaded.from_cache});
      record_artefacts();
      expected.check("dataset", "", dataset.content_sha256);
      say(fmt::format("dataset: {} train / {} test, {} classes ({:.1f}s)", dataset.train.n, dataset.test.n,
                      dataset.num_classes(), timer.records().back().wall_s));
    }

    // 2. embed
    auto method = cell.method.instantiate();
    if (method->needs_images() && !dataset.has_images())  // refused before the embeddings are computed
      throw Error(fmt::format("{}: method '{}' needs the training images, but dataset '{}' has features only",
                              ex.file, cell.method.name, cell.dataset.name));
    Embeddings embeddings;
    if (cell.extractor) {
      if (expected.active() && parse_extractor_kind(*cell.extractor) == ExtractorKind::Proxy) {
        // Nothing is trained or embedded under verify: the recorded network and embeddings must be here.
        const std::string net_key = extractor_network_key(dataset, *cell.extractor);
        expected.check("extractor_network", net_key, "");
        expected.require_file("extractor_network", extractor_model_path(ex.cache_dir, net_key));
        if (const CellArtefact* e = expected.find("embeddings"))
          expected.require_file("embeddings", embeddings_path(ex.cache_dir, e->key));
      }
      auto scope = timer.scope("embed");
      // Extractor kind none needs no network: selection-only cells never load LibTorch.
      embeddings = parse_extractor_kind(*cell.extractor) == ExtractorKind::None
                       ? carried_features(dataset)
                       : models_library().compute_embeddings(dataset, *cell.extractor, ex.cache_dir, say);
      scope.stop();
      stages_run.extractor = true;
      std::map<std::string, double> m = {{"embed_from_cache", embeddings.from_cache ? 1.0 : 0.0},
                                         {"embed_dim", static_cast<double>(embeddings.d)}};
      // A proxy extractor's own test accuracy (known when it was trained, or kept beside its cache).
      if (embeddings.extractor_top1 >= 0) m["extractor_top1"] = embeddings.extractor_top1;
      if (embeddings.extractor_top1_tta >= 0) m["extractor_top1_tta"] = embeddings.extractor_top1_tta;
      record_new_stages(m);
      if (!embeddings.cache_path.empty())
        store.record_artefact(embeddings.key, "embeddings", embeddings.cache_path,
                              static_cast<int64_t>(embeddings.z.size() * sizeof(float)));
      if (!embeddings.network.kind.empty()) artefacts.add(embeddings.network);
      artefacts.add({.kind = "embeddings",
                     .key = embeddings.key,
                     .sha256 = embeddings.sha256,
                     .bytes = static_cast<int64_t>(embeddings.z.size() * sizeof(float)),
                     .from_cache = embeddings.from_cache});
      record_artefacts();
      expected.check("extractor_network", embeddings.network.key, embeddings.network.sha256);
      expected.check("embeddings", embeddings.key, embeddings.sha256);
    } else if (method->needs_embeddings()) {
      throw Error(fmt::format("{}: method '{}' works on embeddings; add an 'extractor:' section (e.g. "
                              "{{kind: proxy}}, or {{kind: none}} for datasets that carry features)",
                              ex.file, cell.method.name));
    }

    // 3. select
    ClassPartition classes =
        partition_by_class(embeddings.z.empty() ? nullptr : embeddings.z.data(), embeddings.d, dataset.train.labels,
                           dataset.num_classes());
    std::vector<ClassSelection> selections;
    std::vector<int64_t> selected;
    std::vector<float> keep;
    {
      const SelectContext ctx{.ratio = cell.ratio,
                              .seed = cell.selection_seed(),
                              .memory = memory,
                              .timer = timer,
                              .resources = {.train_images = dataset.has_images() ? &dataset.train : nullptr,
                                            .cache_dir = ex.cache_dir,
                                            .embedding_key = embeddings.sha256,
                                            .artefact = [&](const ArtefactUse& use) { artefacts.add(use); },
                                            .knn_sweep_k = knn_sweep_k(ex, cell),
                                            .device = knn_device(cell),
                                            .work_dir = ex.cache_dir + "/cells/" + id,
                                            .deadline = deadline,
                                            .note = method_note_sink(store, id, cell.method)}};
      Selection selection = run_selection(*method, classes.views, ctx);
      // A method that cuts images must declare it (MethodInfo::drops_patches): the `patches:` section
      // decides how they are cut, and only a declaring method's cell id names that section (a changed
      // section would otherwise resume a stale cell). Refused before anything is stored.
      if (!cell.drops_patches() && cuts_images(selection.classes))
        throw Error(fmt::format("{}: method '{}' returned kept fractions below 1 but does not declare that it drops "
                                "patches (MethodInfo::drops_patches), so its cell id would not name the 'patches:' "
                                "section that cuts them; declare it",
                                ex.file, cell.method.name));
      selections = std::move(selection.classes);
      selected = std::move(selection.ids);
      keep = std::move(selection.keep);
      const double kept = selection.kept;
      std::map<std::string, double> m = diagnostic_means(selections);
      m["selected_samples"] = static_cast<double>(selected.size());
      m["sample_ratio"] = static_cast<double>(selected.size()) / static_cast<double>(dataset.train.n);
      m["storage_ratio"] = kept / static_cast<double>(dataset.train.n);
      record_new_stages(m);
      store.record_selection(id, selected, keep);
      if (method->produces_bins()) {  // DQ's bins, for `dqbench export`
        std::vector<StoredClassBins> bins;
        for (size_t c = 0; c < selections.size(); ++c) bins.push_back({classes.views[c].label, selections[c].bins});
        store.record_bins(id, bins);
      }
      record_artefacts();
      say(fmt::format("select: {} samples ({:.2f}% of the training set, {:.2f}% storage) in {:.2f}s",
                      selected.size(), 100.0 * m["sample_ratio"], 100.0 * m["storage_ratio"],
                      timer.records().back().wall_s));
    }

    // 4. patches: ranking, SPD, dropping, reconstruction. What a cell stores is what it trains on.
    bool any_spd = false, any_drop = false;
    for (const auto& s : selections) {
      any_spd = any_spd || s.spd;
      for (float w : s.keep) any_drop = any_drop || w < 1.0f;
    }
    ImageSet coreset_images;
    bool have_coreset_images = false;
    DQ_ASSERT(!any_spd || dataset.has_images(), "SPD methods declare needs_images");
    if (any_spd || (any_drop && cell.train && dataset.has_images())) {
      auto scope = timer.scope("patches");
      const PatchConfig config = PatchConfig::from(cell.patches);
      std::unique_ptr<PatchBackend> backend;
      if (config.needs_backend(selections)) {
        if (!cell.extractor)
          throw Error(fmt::format("{}: the patch stage (GradCAM++ ranking, MAE or SPD) needs an 'extractor:' section",
                                  ex.file));
        backend = models_library().make_patch_backend(dataset, *cell.extractor, cell.patches, ex.cache_dir,
                                                      embeddings.network.sha256, say);
      }
      PatchStageResult r = run_patch_stage(
          selections, {dataset.train, config, backend.get(), timer, derive_seed(cell.selection_seed(), "patches"),
                       ex.cache_dir});
      scope.stop();
      stages_run.patch_stage = true;
      std::map<std::string, double> m = r.metrics;
      // The cell's counts and ratios become those of what is actually stored (the select stage's were
      // from the method's keep fractions, and for SPD from its whole candidate order), and so do the
      // method's diagnostics (SPD: those of the stored prefix).
      for (const auto& [k, v] : diagnostic_means(selections)) m[k] = v;
      m["selected_samples"] = static_cast<double>(r.ids.size());
      m["sample_ratio"] = m.at("patch_sample_ratio");
      m["storage_ratio"] = m.at("patch_storage_ratio");
      if (backend)
        for (const auto& [k, v] : backend->metrics()) m[k] = v;
      record_new_stages(m);
      for (const auto& a : r.artefacts) artefacts.add(a);
      selected = std::move(r.ids);
      keep = std::move(r.keep);
      coreset_images = std::move(r.images);
      have_coreset_images = true;
      store.record_selection(id, selected, keep);  // the stored selection, with the applied keep fractions
      store.record_patch_masks(id, r.grid, r.masks);  // and the masks applied, row for row
      record_artefacts();
      say(fmt::format("patches: {} images, {:.2f}% storage from the applied masks{} ({:.1f}s)", selected.size(),
                      100.0 * m["patch_storage_ratio"],
                      any_spd ? fmt::format(", SPD mean drop {:.3f}", m["spd_mean_drop"]) : std::string(),
                      timer.records().back().wall_s));
    }

    // 5. coverage and redundancy of the selection in embedding space
    if (!embeddings.z.empty() && !options.selection_only) {
      auto scope = timer.scope("metrics");
      const auto m = selection_metrics(classes.views, selections, memory);
      scope.stop();
      stages_run.metrics = true;
      record_new_stages(m);
    }

    // 6. train + eval
    if (options.selection_only) {
      // verify: the stored selection is what is compared
    } else if (cell.train && dataset.has_images() && dataset.test.n > 0) {
      auto scope = timer.scope("train");
      // A coreset is a set: the trainer sees it in dataset-id order, whatever order the method listed its
      // picks in, so the same images train the same network (an exported coreset read back, in any order).
      std::vector<int64_t> rows(selected.size());
      std::iota(rows.begin(), rows.end(), int64_t{0});
      std::sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) { return selected[a] < selected[b]; });
      ImageSet coreset;
      if (have_coreset_images) {
        coreset = coreset_images.subset(rows);
        coreset_images = ImageSet{};
      } else {
        std::vector<int64_t> ids(rows.size());
        for (size_t i = 0; i < rows.size(); ++i) ids[i] = selected[static_cast<size_t>(rows[i])];
        coreset = dataset.train.subset(ids);
      }
      TrainRecipe recipe = train_recipe_from(*cell.train, cell.ratio);
      recipe.full_train_samples = dataset.train.n;  // the equal-steps budget counts the full set's steps
      const TrainResult r = models_library().train_and_evaluate(coreset, dataset.test, dataset.num_classes(), recipe,
                                                                  cell.training_seed(), [&](const std::string& msg) { say("train: " + msg); });
      scope.stop();
      stages_run.train = true;
      std::map<std::string, double> m = {{"top1", r.final_top1},
                                         {"top1_best", r.best_top1},
                                         {"train_loss", r.final_train_loss},
                                         {"train_steps", static_cast<double>(r.steps)},
                                         {"train_epochs", static_cast<double>(r.epochs)}};
      if (r.final_top1_tta >= 0) m["top1_tta"] = r.final_top1_tta;  // test-time augmentation, beside plain top1
      record_new_stages(m);
    } else if (cell.train) {
      say("train: skipped (the dataset has no images or no test split)");
    }
  } catch (const OutOfMemory& e) {
    status = CellStatus::Oom;
    error = e.what();
    // An allocation outside the budget's bookkeeping (LibTorch, models/torch_errors.h) knows no budget.
    oom_metrics = {{"oom_requested_bytes", static_cast<double>(e.requested_bytes())},
                   {"oom_budget_bytes", static_cast<double>(e.budget_bytes() > 0 ? e.budget_bytes() : memory.limit())}};
  } catch (const Timeout& e) {
    status = CellStatus::Timeout;
    error = e.what();
  } catch (const std::bad_alloc&) {
    status = CellStatus::Oom;
    error = "an undeclared allocation failed (std::bad_alloc) under the process memory limit";
  } catch (const std::exception& e) {
    // models/ turns LibTorch's errors into dq::OutOfMemory / dq::Error (models/torch_errors.h).
    status = CellStatus::Failed;
    error = e.what();
  }
  record_new_stages({});
  oom_metrics["declared_peak_bytes"] = static_cast<double>(memory.peak());
  store.record_metrics(id, oom_metrics);
  record_artefacts();
  Provenance provenance = collect_provenance(threads, torch_version(), options.command_line);
  provenance.code_identities = code_identities_json(producers_used(stages_run, artefacts));
  provenance.load1_start = load_start;
  store.finish_cell(id, status, error, provenance);
  if (status != CellStatus::Done) say(fmt::format("{}: {}", status_name(status), error));
  return status;
}

}  // namespace dq
