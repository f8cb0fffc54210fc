#include "core/error.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

#include "core/units.h"

namespace dq {

OutOfMemory::OutOfMemory(std::string what, uint64_t requested_bytes, uint64_t in_use_bytes,
                         uint64_t budget_bytes)
    : Error(fmt::format("out of memory: '{}' asked for {} ({} bytes) with {} in use, over the budget of {}",
                        what, format_bytes(requested_bytes), requested_bytes, format_bytes(in_use_bytes),
                        format_bytes(budget_bytes))),
      buffer_(std::move(what)),
      requested_(requested_bytes),
      budget_(budget_bytes) {}

OutOfMemory::OutOfMemory(const std::string& message, uint64_t budget_bytes, uint64_t requested_bytes)
    : Error(message), requested_(requested_bytes), budget_(budget_bytes) {}

OutOfMemory OutOfMemory::in_process(const std::string& message, uint64_t budget_bytes, uint64_t requested_bytes) {
  return OutOfMemory(message, budget_bytes, requested_bytes);
}

void assertion_failed(const char* expr, const char* file, int line, const std::string& msg) {
  std::fprintf(stderr, "dqbench internal error: %s:%d: assertion '%s' failed: %s\n", file, line, expr,
               msg.c_str());
  std::abort();
}

}  // namespace dq
