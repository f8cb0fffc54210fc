// BLAS thread control through OpenBLAS's own entry points, found at run time.
#include "core/blas_threads.h"

#include <dlfcn.h>

namespace dq {

namespace {
using BlasThreadsGet = int (*)();
using BlasThreadsSet = void (*)(int);
}  // namespace

// Looked up at run time so that nothing breaks when the process's BLAS is not OpenBLAS.
SingleThreadedBlas::SingleThreadedBlas() {
  auto get = reinterpret_cast<BlasThreadsGet>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  auto set = reinterpret_cast<BlasThreadsSet>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (get && set) {
    saved_ = get();
    set(1);
  }
}

SingleThreadedBlas::~SingleThreadedBlas() {
  if (saved_ > 0)
    if (auto set = reinterpret_cast<BlasThreadsSet>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(saved_);
}

}  // namespace dq
