#pragma once
// Two tiers of failure (as FAISS does it):
//  - dq::Error: the user's input is wrong (bad YAML, corrupt file, unknown method). Carries context,
//    is caught at the command line or the cell runner, and becomes a clear message + non-zero exit.
//  - DQ_ASSERT: an invariant of our own code is broken. Aborts with the location.
#include <cstdint>
#include <stdexcept>
#include <string>

namespace dq {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A declared allocation would exceed the cell's memory budget. Cells that throw this end as OOM,
// with the request recorded; OOM is a result (the paper's Fakeddit row), not a failure.
class OutOfMemory : public Error {
 public:
  OutOfMemory(std::string what, uint64_t requested_bytes, uint64_t in_use_bytes, uint64_t budget_bytes);
  const std::string& buffer() const { return buffer_; }
  uint64_t requested_bytes() const { return requested_; }
  uint64_t budget_bytes() const { return budget_; }

 private:
  std::string buffer_;
  uint64_t requested_;
  uint64_t budget_;
};

[[noreturn]] void assertion_failed(const char* expr, const char* file, int line, const std::string& msg);

std::string format_bytes(uint64_t bytes);
// Parses "12GiB", "512MiB", "1.5GB", "1024" (bytes). Throws dq::Error naming `where` on bad input.
uint64_t parse_bytes(const std::string& text, const std::string& where);

}  // namespace dq

#define DQ_ASSERT(cond, msg)                                              \
  do {                                                                    \
    if (!(cond)) ::dq::assertion_failed(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
