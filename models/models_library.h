#pragma once
// The LibTorch half of models/ (networks, training, extractors, GradCAM++, the MAE) as a table of
// functions, so that a program can start without LibTorch and load it only when a cell needs a
// network. dqbench links no LibTorch: the first models_library() call loads libdqbench_models.so
// (beside the binary in a build tree, lib/dqbench/ after `cmake --install`), whose static initialiser
// registers the table (models/library_entry.cpp); programs that link dq_models directly (the model
// tests, the benchmarks) have it registered before main. Loading LibTorch costs every process about
// 0.4 s of CPU (its operator registration), which used to be most of a selection-only cell's time.
#include <cstdint>
#include <string>

#include "models/models.h"

namespace dq {

struct ModelsLibrary {
  decltype(&dq::compute_embeddings) compute_embeddings = nullptr;
  decltype(&dq::train_and_evaluate) train_and_evaluate = nullptr;
  decltype(&dq::make_patch_backend) make_patch_backend = nullptr;
  decltype(&dq::print_models_catalog) print_models_catalog = nullptr;
  void (*set_torch_threads)(int64_t threads) = nullptr;  // LibTorch's intra-op threads
};

// Called once by the library's static initialiser; applies the last set_compute_threads() to LibTorch.
void register_models_library(const ModelsLibrary& table);
// Lets models_library() load the library that belongs to `executable` (dqbench's main calls this
// with /proc/self/exe). Without it, a program that does not link dq_models has no models library.
void enable_models_library_loading(const std::string& executable);
// The registered table, loading the library first when loading is enabled. Throws dq::Error saying
// what is missing when there is none (a torch-free build, or the library was not built).
const ModelsLibrary& models_library();
bool models_library_loaded();
// Loads the library when loading is enabled and it is not loaded yet; false when loading is disabled.
// Throws dq::Error when it is enabled but cannot be loaded.
bool load_models_library_if_enabled();

}  // namespace dq
