// Finding, loading and registering the LibTorch half of models/ (models_library.h), and the compute
// thread count it shares with OpenMP.
#include "models/models_library.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"
#include "methods/knn/device_search.h"

#ifndef DQ_TORCH_VERSION
#define DQ_TORCH_VERSION "none"
#endif
#ifndef DQ_MODELS_LIBRARY_BUILT
#define DQ_MODELS_LIBRARY_BUILT 1
#endif
#ifndef DQ_MODELS_LIBRARY_FROM_BINDIR
#define DQ_MODELS_LIBRARY_FROM_BINDIR "../lib/dqbench"
#endif

namespace dq {

namespace {
constexpr const char* kLibraryName = "libdqbench_models.so";

struct State {
  std::mutex mutex;
  std::atomic<const ModelsLibrary*> table{nullptr};
  ModelsLibrary storage;
  std::vector<std::string> candidates;  // where the library may be, in order; empty: loading disabled
  int64_t threads = 0;                  // the last set_compute_threads() count; 0 = none yet
};
State& state() {
  static State s;
  return s;
}
}  // namespace

void register_models_library(const ModelsLibrary& table) {
  State& s = state();
  DQ_ASSERT(!s.table.load(), "the models library registered twice");
  s.storage = table;
  s.table.store(&s.storage);
  if (s.threads > 0 && table.set_torch_threads) table.set_torch_threads(s.threads);
}

void enable_models_library_loading(const std::string& executable) {
  if (!DQ_MODELS_LIBRARY_BUILT) return;  // configured with -DDQ_BUILD_MODELS=OFF: there is none to load
  State& s = state();
  std::lock_guard lock(s.mutex);
  const std::filesystem::path dir = std::filesystem::path(executable).parent_path();
  s.candidates = {(dir / kLibraryName).string(),
                  (dir / DQ_MODELS_LIBRARY_FROM_BINDIR / kLibraryName).lexically_normal().string()};
}

bool models_library_loaded() { return state().table.load() != nullptr; }

bool load_models_library_if_enabled() {
  State& s = state();
  if (s.table.load()) return true;
  std::lock_guard lock(s.mutex);
  if (s.candidates.empty()) return false;
  if (s.table.load()) return true;
  std::string tried;
  for (const auto& path : s.candidates) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      tried += fmt::format("\n  {}: absent", path);
      continue;
    }
    // dq symbols resolve against the executable (it exports them, as for method plugins); the
    // library's static initialiser registers the table.
    if (!dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      const char* why = dlerror();
      throw Error(fmt::format("cannot load the models library {}: {}", path, why ? why : "unknown error"));
    }
    if (!s.table.load()) throw Error(fmt::format("{} loaded but registered no models table", path));
    return true;
  }
  throw Error(fmt::format("this needs the LibTorch models library (networks, training, extractors), which is "
                          "not there:{}\n(build the target dqbench_models, or configure with "
                          "-DDQ_BUILD_MODELS=ON)",
                          tried));
}

// A device KNN search asks for the library when it finds no backend (methods/knn/device_search.h).
namespace {
const bool device_search_loader_registered = (set_device_search_loader(&load_models_library_if_enabled), true);
}

const ModelsLibrary& models_library() {
  if (!load_models_library_if_enabled())
    throw Error("this program was built without the LibTorch models library (networks, training, extractors)");
  return *state().table.load();
}

void set_compute_threads(int64_t threads) {
  // 0: the process's share (OMP_NUM_THREADS, which `dqbench run -j N` sets per cell), else all cores.
  int64_t n = threads > 0 ? threads : std::max<int64_t>(1, std::thread::hardware_concurrency());
  if (const char* share = std::getenv("OMP_NUM_THREADS"); threads <= 0 && share && std::atoi(share) > 0)
    n = std::atoi(share);
  omp_set_num_threads(static_cast<int>(n));
  State& s = state();
  s.threads = n;
  if (const ModelsLibrary* lib = s.table.load(); lib && lib->set_torch_threads) lib->set_torch_threads(n);
}

std::string torch_version() {
  if (models_library_loaded()) return torch_build().text();
  return DQ_MODELS_LIBRARY_BUILT ? fmt::format("{} (not loaded)", DQ_TORCH_VERSION) : "none";
}

}  // namespace dq
