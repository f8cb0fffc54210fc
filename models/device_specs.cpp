// The `device` key, parsed at the edge, and the LibTorch-free hook through which the experiment parser
// asks whether the linked LibTorch can provide it (models/device.cpp installs the real answer).
#include <fmt/format.h>

#include <atomic>
#include <charconv>

#include "core/error.h"
#include "models/models.h"
#include "models/models_library.h"

namespace dq {

namespace {
std::atomic<CudaDeviceCountFn> cuda_device_count_hook{nullptr};
}

std::string DeviceSpec::text() const {
  switch (kind) {
    case Kind::Auto: return "auto";
    case Kind::Cpu: return "cpu";
    case Kind::Cuda: return fmt::format("cuda:{}", index);
  }
  return "?";
}

DeviceSpec parse_device(const std::string& text, const std::string& where) {
  DeviceSpec d;
  if (text == "auto") return d;
  if (text == "cpu") {
    d.kind = DeviceSpec::Kind::Cpu;
    return d;
  }
  if (text == "cuda") {
    d.kind = DeviceSpec::Kind::Cuda;
    return d;
  }
  if (text.starts_with("cuda:")) {
    const char* first = text.data() + 5;
    const char* last = text.data() + text.size();
    int64_t index = -1;
    const auto [ptr, ec] = std::from_chars(first, last, index);
    if (ec == std::errc() && ptr == last && first != last && index >= 0) {
      d.kind = DeviceSpec::Kind::Cuda;
      d.index = index;
      return d;
    }
  }
  throw Error(fmt::format("{}: unknown device '{}' (use auto, cpu, cuda or cuda:N)", where, text));
}

void set_cuda_device_count_hook(CudaDeviceCountFn fn) { cuda_device_count_hook.store(fn); }

void check_device_available(const DeviceSpec& device, const std::string& where) {
  if (device.kind != DeviceSpec::Kind::Cuda) return;
  CudaDeviceCountFn count_fn = cuda_device_count_hook.load();
  // dqbench loads LibTorch only now (models/models_library.h); its device.cpp installs the hook.
  if (!count_fn && load_models_library_if_enabled()) count_fn = cuda_device_count_hook.load();
  if (!count_fn) return;  // no LibTorch in this program: nothing to ask
  const int64_t count = count_fn();
  if (count == 0)
    throw Error(fmt::format("{}: device '{}' requested, but the linked LibTorch has no CUDA device (Debian's "
                            "libtorch-dev is CPU-only: build against a CUDA LibTorch, see README 'GPU', or use "
                            "device: auto or cpu)",
                            where, device.text()));
  if (device.index >= count)
    throw Error(fmt::format("{}: device '{}' requested, but only {} CUDA device(s) are visible", where, device.text(),
                            count));
}

}  // namespace dq
