#include "harness/run_cell.h"

#include <fmt/format.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <new>
#include <thread>

#include "core/error.h"
#include "core/memory_budget.h"
#include "core/stage_timer.h"
#include "harness/cell_stages.h"
#include "harness/provenance.h"
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

// The load average over the last minute (-1 when unknown).
double load_average_1min() {
  double load[1] = {-1};
  return getloadavg(load, 1) == 1 ? load[0] : -1;
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
  if (cell.train) threads = cell.train->threads;
  set_compute_threads(threads);

  MemoryBudget memory(cell.memory_budget);
  StageTimer timer;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                                std::chrono::duration<double>(ex.timeout_s));
  CellStatus status = CellStatus::Done;
  std::string error;
  std::map<std::string, double> oom_metrics;
  CellStages stages(ex, cell, store, options, id, memory, timer, deadline, say);

  try {
    Dataset dataset;
    stages.record(stages.dataset(dataset));
    stages.expected.check("dataset", "", dataset.content_sha256);

    auto method = cell.method.instantiate();  // the one build of the cell's method
    if (method->needs_images() && !dataset.has_images())  // refused before the embeddings are computed
      throw Error(fmt::format("{}: method '{}' needs the training images, but dataset '{}' has features only",
                              ex.file, cell.method.name, cell.dataset.name));
    Embeddings embeddings;
    if (cell.extractor) {
      stages.record(stages.embed(dataset, embeddings));
      stages.expected.check("extractor_network", embeddings.network.key, embeddings.network.sha256);
      stages.expected.check("embeddings", embeddings.key, embeddings.sha256);
    } else if (method->needs_embeddings()) {
      throw Error(fmt::format("{}: method '{}' works on embeddings; add an 'extractor:' section (e.g. "
                              "{{kind: proxy}}, or {{kind: none}} for datasets that carry features)",
                              ex.file, cell.method.name));
    }

    const ClassPartition classes =
        partition_by_class(embeddings.z.empty() ? nullptr : embeddings.z.data(), embeddings.d, dataset.train.labels,
                           dataset.num_classes());
    Selection selection;
    stages.record(stages.select(dataset, embeddings, *method, classes, selection));

    std::optional<ImageSet> coreset_images;  // set by the patch stage: the images a coreset trains on
    if (auto m = stages.patches(dataset, embeddings, selection, coreset_images)) stages.record(*m);

    if (!embeddings.z.empty() && !options.selection_only) stages.record(stages.metrics(classes, selection));

    if (options.selection_only) {
      // verify: the stored selection is what is compared
    } else if (cell.train && dataset.has_images() && dataset.test.n > 0) {
      stages.record(stages.train(dataset, selection, coreset_images));
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
  stages.record({});
  oom_metrics["declared_peak_bytes"] = static_cast<double>(memory.peak());
  store.record_metrics(id, oom_metrics);
  stages.record_artefacts();
  Provenance provenance = collect_provenance(threads, torch_version(), options.command_line);
  provenance.code_identities = code_identities_json(producers_used(stages.stages_run, stages.artefacts));
  provenance.load1_start = load_start;
  store.finish_cell(id, status, error, provenance);
  if (status != CellStatus::Done) say(fmt::format("{}: {}", status_name(status), error));
  return status;
}

}  // namespace dq
