#include "harness/run_cell.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <new>
#include <thread>

#include "core/error.h"
#include "core/hashing.h"
#include "core/memory_budget.h"
#include "core/rng.h"
#include "datasets/dataset.h"
#include "datasets/decode_cache.h"
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

}  // namespace

CellStatus run_cell(const Experiment& ex, const CellConfig& cell, Store& store, const CellRunOptions& options) {
  const std::string id = cell.id();
  const std::string prefix = options.progress_prefix.empty() ? "" : options.progress_prefix + " ";
  auto say = [&](const std::string& msg) { std::cerr << prefix << msg << std::endl; };
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
      auto scope = timer.scope("embed");
      // Extractor kind none needs no network: selection-only cells never load LibTorch.
      embeddings = parse_extractor_kind(*cell.extractor) == ExtractorKind::None
                       ? carried_features(dataset)
                       : models_library().compute_embeddings(dataset, *cell.extractor, ex.cache_dir, say);
      scope.stop();
      record_new_stages({{"embed_from_cache", embeddings.from_cache ? 1.0 : 0.0},
                         {"embed_dim", static_cast<double>(embeddings.d)}});
      if (!embeddings.cache_path.empty())
        store.record_artefact(embeddings.key, "embeddings", embeddings.cache_path,
                              static_cast<int64_t>(embeddings.z.size() * sizeof(float)));
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
                                            .embedding_key = embeddings.key,
                                            .knn_sweep_k = knn_sweep_k(ex, cell),
                                            .work_dir = ex.cache_dir + "/cells/" + id,
                                            .deadline = deadline,
                                            .note = method_note_sink(store, id, cell.method)}};
      Selection selection = run_selection(*method, classes.views, ctx);
      selections = std::move(selection.classes);
      selected = std::move(selection.ids);
      keep = std::move(selection.keep);
      const double kept = selection.kept;
      std::map<std::string, double> m;
      std::map<std::string, std::pair<double, int>> diag;
      for (const auto& s : selections) {
        for (const auto& [k, v] : s.diagnostics) {
          diag[k].first += v;
          diag[k].second += 1;
        }
      }
      for (const auto& [k, v] : diag) m["diag_" + k + "_mean"] = v.first / v.second;
      m["selected_samples"] = static_cast<double>(selected.size());
      m["sample_ratio"] = static_cast<double>(selected.size()) / static_cast<double>(dataset.train.n);
      m["storage_ratio"] = kept / static_cast<double>(dataset.train.n);
      record_new_stages(m);
      store.record_selection(id, selected, keep);
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
        backend = models_library().make_patch_backend(dataset, *cell.extractor, cell.patches, ex.cache_dir, say);
      }
      PatchStageResult r = run_patch_stage(
          selections, {dataset.train, config, backend.get(), timer, derive_seed(cell.selection_seed(), "patches"),
                       ex.cache_dir});
      scope.stop();
      std::map<std::string, double> m = r.metrics;
      // The cell's ratios become those of what is actually stored (the select stage's were from the
      // method's keep fractions, and for SPD from its candidate order).
      m["sample_ratio"] = m.at("patch_sample_ratio");
      m["storage_ratio"] = m.at("patch_storage_ratio");
      if (backend)
        for (const auto& [k, v] : backend->metrics()) m[k] = v;
      record_new_stages(m);
      selected = std::move(r.ids);
      keep = std::move(r.keep);
      coreset_images = std::move(r.images);
      have_coreset_images = true;
      store.record_selection(id, selected, keep);  // the stored selection, with the applied keep fractions
      say(fmt::format("patches: {} images, {:.2f}% storage from the applied masks{} ({:.1f}s)", selected.size(),
                      100.0 * m["patch_storage_ratio"],
                      any_spd ? fmt::format(", SPD mean drop {:.3f}", m["spd_mean_drop"]) : std::string(),
                      timer.records().back().wall_s));
    }

    // 5. coverage and redundancy of the selection in embedding space
    if (!embeddings.z.empty()) {
      auto scope = timer.scope("metrics");
      const auto m = selection_metrics(classes.views, selections, memory);
      scope.stop();
      record_new_stages(m);
    }

    // 6. train + eval
    if (cell.train && dataset.has_images() && dataset.test.n > 0) {
      auto scope = timer.scope("train");
      const ImageSet coreset = have_coreset_images ? std::move(coreset_images) : dataset.train.subset(selected);
      const TrainResult r = models_library().train_and_evaluate(coreset, dataset.test, dataset.num_classes(),
                                               train_recipe_from(*cell.train, cell.ratio), cell.training_seed(),
                                               [&](const std::string& msg) { say("train: " + msg); });
      scope.stop();
      record_new_stages({{"top1", r.final_top1},
                         {"top1_best", r.best_top1},
                         {"train_loss", r.final_train_loss},
                         {"train_steps", static_cast<double>(r.steps)},
                         {"train_epochs", static_cast<double>(r.epochs)}});
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
  store.finish_cell(id, status, error, collect_provenance(threads, torch_version(), options.command_line));
  if (status != CellStatus::Done) say(fmt::format("{}: {}", status_name(status), error));
  return status;
}

}  // namespace dq
