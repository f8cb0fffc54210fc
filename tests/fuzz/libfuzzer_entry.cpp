// The libFuzzer entry point of one target (scripts/fuzz.sh builds one binary per target with clang's
// -fsanitize=fuzzer, naming the target in DQ_FUZZ_TARGET_NAME).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const dq::fuzz::TargetFn fn = [] {
    const dq::fuzz::TargetFn f = dq::fuzz::find_target(DQ_FUZZ_TARGET_NAME);
    if (!f) {
      std::fprintf(stderr, "no fuzz target '%s'\n", DQ_FUZZ_TARGET_NAME);
      std::abort();
    }
    return f;
  }();
  dq::fuzz::run_one(fn, {reinterpret_cast<const char*>(data), size});
  return 0;
}
