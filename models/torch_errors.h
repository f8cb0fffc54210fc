#pragma once
// LibTorch's errors turned into the project's at the boundary of models/, as methods/knn turns
// FAISS errors into dq::Error (methods/knn/approximate_search.cpp): no c10::Error leaves models/,
// so the cell runner needs no knowledge of LibTorch's messages. An allocation failure becomes
// dq::OutOfMemory (the cell ends OOM, a result); anything else becomes dq::Error (the cell ends
// FAILED) with LibTorch's message but not its C++ backtrace. Internal to models/ (includes c10).
#include <c10/util/Exception.h>

#include <cstdint>
#include <string>
#include <utility>

namespace dq {

// Whether `error` reports a failed allocation: c10::OutOfMemoryError (CUDA's caching allocator since
// LibTorch 1.13), or a plain c10::Error from a CPU allocator, which says so only in its text
// ("DefaultCPUAllocator: can't allocate memory: you tried to allocate N bytes", "... not enough
// memory ...", "C10 Out of Memory. Trying to allocate N bytes"). The text is matched here, in one
// place, next to LibTorch, and a test checks the linked LibTorch's own wording.
bool is_torch_out_of_memory(const c10::Error& error);

// The size LibTorch says it asked for ("allocate 1024 bytes", "Tried to allocate 20.00 MiB"), in
// bytes; 0 when the message does not say.
uint64_t torch_requested_bytes(const c10::Error& error);

// Throws `error` as dq::OutOfMemory (is_torch_out_of_memory; budget 0 = unknown here, the cell runner
// knows it) or as dq::Error, the message prefixed with `context` ("train", "extractor", ...).
[[noreturn]] void throw_as_dq_error(const c10::Error& error, const std::string& context);

// Runs `fn()` and returns what it returns, converting a c10::Error with throw_as_dq_error. Every
// entry point of models/ that runs LibTorch (models.h, the patch backend) goes through this.
template <typename Fn>
decltype(auto) converting_torch_errors(const std::string& context, Fn&& fn) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const c10::Error& error) {
    throw_as_dq_error(error, context);
  }
}

}  // namespace dq
