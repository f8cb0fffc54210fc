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
std::atomic<TorchBuildFn> torch_build_hook{nullptr};
}

std::string TorchBuild::text() const {
  if (version.empty()) return "none";
  return cuda.empty() ? fmt::format("{} (CPU only)", version) : fmt::format("{} (CUDA {})", version, cuda);
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

void set_torch_build_hook(TorchBuildFn fn) { torch_build_hook.store(fn); }

TorchBuild torch_build() {
  TorchBuildFn build_fn = torch_build_hook.load();
  // dqbench loads LibTorch only now (models/models_library.h); its device.cpp installs the hook.
  if (!build_fn && load_models_library_if_enabled()) build_fn = torch_build_hook.load();
  return build_fn ? build_fn() : TorchBuild{};  // no LibTorch in this program: version ""
}

std::string resolved_cuda_device(const DeviceSpec& device) {
  switch (device.kind) {
    case DeviceSpec::Kind::Cpu: return "";
    case DeviceSpec::Kind::Cuda: return device.text();
    case DeviceSpec::Kind::Auto: {
      return torch_build().cuda_devices > 0 ? "cuda:0" : "";  // loads LibTorch when dqbench has not yet
    }
  }
  return "";
}

void check_device_available(const DeviceSpec& device, const std::string& where) {
  if (device.kind != DeviceSpec::Kind::Cuda) return;
  const TorchBuild build = torch_build();
  if (build.version.empty()) return;  // no LibTorch in this program: nothing to ask
  if (build.cuda.empty())
    throw Error(fmt::format("{}: device '{}' requested, but this dqbench's LibTorch {} has no CUDA compiled in "
                            "(Debian's libtorch-dev is CPU-only: build the pip flavour, DQ_TORCH=pip sh "
                            "scripts/build.sh, see README 'GPU'; or use device: auto or cpu)",
                            where, device.text(), build.text()));
  if (build.cuda_devices == 0)
    throw Error(fmt::format("{}: device '{}' requested, but no CUDA GPU is visible to LibTorch {} (check the "
                            "driver with nvidia-smi and CUDA_VISIBLE_DEVICES; or use device: auto or cpu)",
                            where, device.text(), build.text()));
  if (device.index >= build.cuda_devices)
    throw Error(fmt::format("{}: device '{}' requested, but only {} CUDA device(s) are visible", where, device.text(),
                            build.cuda_devices));
}

}  // namespace dq
