#pragma once
// Exact neighbour identification on a LibTorch device (a CUDA GPU, or CPU tensors for tests): the
// same lists and lambda_C pairs as exact_self_knn, byte for byte. Distance tiles are matrix products
// on the device (float32 or bfloat16 with fp32 accumulation, under the bound of
// methods/knn/nomination.cpp), the k-th smallest upper bound of each row and the candidate masks are
// taken there with top-k, and only candidate indices come back to the host, where they are ranked
// exactly by the shared re-rank (methods/knn/internal/rerank.h), as every CPU search does. Device
// memory stays within the tile budget beyond one copy of the rows.
//
// This header is LibTorch-free: the implementation (methods/knn/torch_nominator.cpp) is linked with
// dq_models and installs itself; a binary without it (dq_tests, dq_bench) reports the device search
// as unavailable.
#include <cstdint>
#include <string>

#include "core/memory_budget.h"
#include "methods/knn/search.h"

namespace dq {

struct DeviceSearchOptions {
  std::string device = "cpu";  // a LibTorch device string: "cuda", "cuda:1", or "cpu" (the device code path on CPU tensors)
  std::string dtype = "auto";  // float32 | bfloat16 | float64 | auto (bfloat16 on CUDA, float32 on CPU tensors)
  int64_t candidates_per_row = 0;  // rows whose candidate count exceeds this come back whole (0: 16 k)
};

// True when a LibTorch backend is linked into this binary.
bool device_knn_available();
// The exact self-search of exact_self_knn on the device. dq::Error when no backend is linked, the
// device does not exist, or the dtype is not one of the above.
SelfKnnResult device_exact_self_knn(RowMatrix z, int64_t pairs, const ExactSearchOptions& options,
                                    const DeviceSearchOptions& device, MemoryBudget& memory);

using DeviceSelfSearchFn = SelfKnnResult (*)(RowMatrix, int64_t, const ExactSearchOptions&, const DeviceSearchOptions&,
                                             MemoryBudget&);
void set_device_self_search(DeviceSelfSearchFn fn);
// What installs the hook on demand: called when a device search finds none; true when the hook may now
// be there. dqbench loads LibTorch only when a cell needs it, so the loader of its models library
// (models/models_library.cpp) registers itself here, and this folder never calls up into models/.
using DeviceSearchLoaderFn = bool (*)();
void set_device_search_loader(DeviceSearchLoaderFn fn);

}  // namespace dq
