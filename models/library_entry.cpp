// Registers the LibTorch half of models/ in the table of models/models_library.h when this code is
// loaded: at dlopen of libdqbench_models.so, or before main in a program that links dq_models.
#include <torch/torch.h>

#include "models/models.h"
#include "models/models_library.h"
#include "patching/patch_stage.h"

namespace dq {

namespace {

void set_torch_threads(int64_t threads) { torch::set_num_threads(static_cast<int>(threads)); }

[[maybe_unused]] const bool registered = [] {
  ModelsLibrary table;
  table.compute_embeddings = &compute_embeddings;
  table.train_and_evaluate = &train_and_evaluate;
  table.make_patch_backend = &make_patch_backend;
  table.print_models_catalog = &print_models_catalog;
  table.set_torch_threads = &set_torch_threads;
  register_models_library(table);
  return true;
}();

}  // namespace

}  // namespace dq
