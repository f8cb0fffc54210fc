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
  // An allocation outside the budget's bookkeeping failed: an external method's command under its
  // address-space cap of `budget_bytes` (`message` says what and where its log is), or LibTorch
  // (models/torch_errors.h). `budget_bytes` 0: the thrower does not know the cell's budget;
  // `requested_bytes` 0: the size of the failed request is unknown.
  static OutOfMemory in_process(const std::string& message, uint64_t budget_bytes, uint64_t requested_bytes = 0);
  const std::string& buffer() const { return buffer_; }
  uint64_t requested_bytes() const { return requested_; }
  uint64_t budget_bytes() const { return budget_; }

 private:
  OutOfMemory(const std::string& message, uint64_t budget_bytes, uint64_t requested_bytes);
  std::string buffer_;
  uint64_t requested_;
  uint64_t budget_;
};

// The cell's timeout passed while the cell itself was waiting (on an external method's command,
// methods/external.cpp). Cells that throw this end as TIMEOUT, like those the runner's watchdog stops.
class Timeout : public Error {
 public:
  using Error::Error;
};

[[noreturn]] void assertion_failed(const char* expr, const char* file, int line, const std::string& msg);

}  // namespace dq

#define DQ_ASSERT(cond, msg)                                              \
  do {                                                                    \
    if (!(cond)) ::dq::assertion_failed(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
