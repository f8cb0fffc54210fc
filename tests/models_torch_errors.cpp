// LibTorch's errors become dq::OutOfMemory / dq::Error inside models/ (models/torch_errors.h), so
// the cell runner ends a LibTorch allocation failure as OOM without reading LibTorch's messages.
#include <torch/torch.h>
#undef CHECK  // LibTorch's glog-style CHECK would replace Catch's: include Catch after it
#include <catch2/catch.hpp>

#include <stdexcept>

#include "core/error.h"
#include "models/torch_errors.h"

using namespace dq;

namespace {

// A c10::Error (or subclass) as LibTorch throws it, with its message and backtrace text: LibTorch 2.x
// takes the backtrace as a lazily computed value, 1.13 as a string.
template <typename E>
E torch_error(const std::string& msg, const std::string& backtrace) {
#if TORCH_VERSION_MAJOR >= 2
  return E(msg, std::make_shared<c10::PrecomputedLazyValue<std::string>>(backtrace));
#else
  return E(msg, backtrace);
#endif
}

// What throw_as_dq_error makes of `e`, caught as the cell runner catches it.
template <typename Exception>
Exception converted(const c10::Error& e, const std::string& context) {
  try {
    throw_as_dq_error(e, context);
  } catch (const Exception& out) {
    return out;
  }
  throw std::logic_error("throw_as_dq_error returned");  // unreachable: it is [[noreturn]]
}

}  // namespace

TEST_CASE("a LibTorch CPU allocation failure becomes dq::OutOfMemory with the size it asked for", "[torch_errors]") {
  const auto cpu = torch_error<c10::Error>("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1152921504606846976 bytes. "
                       "Error code 12 (Cannot allocate memory)",
                       "frame #0: c10::alloc_cpu(unsigned long)");
  CHECK(is_torch_out_of_memory(cpu));
  CHECK(torch_requested_bytes(cpu) == (uint64_t{1} << 60));
  const OutOfMemory oom = converted<OutOfMemory>(cpu, "train");
  CHECK(oom.requested_bytes() == (uint64_t{1} << 60));
  CHECK(oom.budget_bytes() == 0);  // unknown to models/: the cell runner records the cell's budget
  CHECK_THAT(oom.what(), Catch::StartsWith("train: LibTorch could not allocate memory: DefaultCPUAllocator"));
  CHECK_THAT(oom.what(), !Catch::Contains("frame #0"));  // no C++ backtrace in the stored message

  const auto caching = torch_error<c10::Error>("C10 Out of Memory. Trying to allocate 4096 bytes, total alloc 0 bytes.", "");
  CHECK(is_torch_out_of_memory(caching));
  CHECK(torch_requested_bytes(caching) == 4096);
}

TEST_CASE("a CUDA out-of-memory error (c10::OutOfMemoryError) becomes dq::OutOfMemory", "[torch_errors]") {
  const auto cuda = torch_error<c10::OutOfMemoryError>("CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 15.78 GiB total capacity)",
                                   "");
  CHECK(is_torch_out_of_memory(cuda));
  CHECK(torch_requested_bytes(cuda) == 20ull << 20);
  CHECK(converted<OutOfMemory>(cuda, "extractor").requested_bytes() == 20ull << 20);
  // The type decides even when the wording is one we do not know; the size is then unknown (0).
  const auto terse = torch_error<c10::OutOfMemoryError>("allocator gave up", "");
  CHECK(is_torch_out_of_memory(terse));
  CHECK(torch_requested_bytes(terse) == 0);
}

TEST_CASE("other LibTorch errors become dq::Error (FAILED), not OOM, without the backtrace", "[torch_errors]") {
  const auto shape = torch_error<c10::Error>("mat1 and mat2 shapes cannot be multiplied (4x3 and 5x6)", "frame #0: at::matmul");
  CHECK_FALSE(is_torch_out_of_memory(shape));
  CHECK(torch_requested_bytes(shape) == 0);
  try {
    throw_as_dq_error(shape, "patches/spd");
    FAIL("expected a dq::Error");
  } catch (const OutOfMemory&) {
    FAIL("a shape error is not an allocation failure");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "patches/spd: mat1 and mat2 shapes cannot be multiplied (4x3 and 5x6)");
  }
}

TEST_CASE("the linked LibTorch's own allocation failure is recognised, with its size", "[torch_errors]") {
  // 2^58 floats = 1 EiB: more than any address space, so the allocator fails at once without
  // touching memory. This checks the wording of the LibTorch we link, not a copy of it.
  const int64_t count = int64_t{1} << 58;
  try {
    converting_torch_errors("test", [&] { return torch::empty({count}, torch::kFloat32); });
    FAIL("expected the allocation to fail");
  } catch (const OutOfMemory& e) {
    INFO(e.what());
    CHECK(e.requested_bytes() == static_cast<uint64_t>(count) * sizeof(float));
  }
  // Values pass through the wrapper unchanged.
  CHECK(converting_torch_errors("test", [] { return torch::ones({3}).sum().item<float>(); }) == 3.0f);
}
