// The LibTorch-free side of the device search: the hook that methods/knn/torch_nominator.cpp fills.
#include "methods/knn/device_search.h"

#include <atomic>

#include "core/error.h"

namespace dq {
namespace {
std::atomic<DeviceSelfSearchFn> device_search_hook{nullptr};
std::atomic<DeviceSearchLoaderFn> device_search_loader{nullptr};
}

void set_device_self_search(DeviceSelfSearchFn fn) { device_search_hook.store(fn); }
void set_device_search_loader(DeviceSearchLoaderFn fn) { device_search_loader.store(fn); }

bool device_knn_available() { return device_search_hook.load() != nullptr; }

SelfKnnResult device_exact_self_knn(RowMatrix z, int64_t pairs, const ExactSearchOptions& options,
                                    const DeviceSearchOptions& device, MemoryBudget& memory) {
  DeviceSelfSearchFn fn = device_search_hook.load();
  // dqbench loads LibTorch only when a cell needs it (set_device_search_loader): the library installs the hook.
  if (const DeviceSearchLoaderFn load = device_search_loader.load(); !fn && load && load()) fn = device_search_hook.load();
  if (!fn)
    throw Error("exact KNN on device '" + device.device +
                "' needs LibTorch, which this program does not have (dqbench loads its models library for it; dq_tests and dq_bench have none)");
  return fn(z, pairs, options, device, memory);
}

}  // namespace dq
