#pragma once
// The frame of the fuzz targets (tests/fuzz/README.md). A target is a function of one input (bytes)
// that must either return or throw dq::Error, the project's "clear error" for bad input; anything else
// (another exception, DQ_ASSERT, a sanitizer report, a hang) is a finding. Each target is built twice
// from the same file: into a libFuzzer binary with clang (scripts/fuzz.sh), and into dq_fuzz_replay
// with the project's compiler, which ctest runs over the committed corpora and regression inputs.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace dq::fuzz {

using TargetFn = void (*)(std::string_view input);

// Registration from a static initialiser (DQ_FUZZ_TARGET); returns a dummy for the initialiser.
int register_target(const char* name, TargetFn fn);
// nullptr when no target has that name.
TargetFn find_target(const std::string& name);
std::vector<std::string> target_names();

// Runs `fn` on `input`: a dq::Error is the clear error bad input deserves (its message must not be
// empty); any other exception aborts with its message, so that libFuzzer and ctest report it.
// Returns the dq::Error's message, or "" when the input was accepted.
std::string run_one(TargetFn fn, std::string_view input);

// A private empty folder for this input (under /dev/shm when it exists), emptied on every call.
std::filesystem::path scratch();
void write_file(const std::filesystem::path& path, std::string_view bytes);

// The input cut at each separator line "\n--8<--\n" into at most `max_parts` parts (the last part
// keeps the rest, separators included). Seeds of multi-file targets are written this way.
inline constexpr std::string_view kPartSeparator = "\n--8<--\n";
std::vector<std::string_view> split_parts(std::string_view input, size_t max_parts);

// Aborts with `what` (a broken property of a successful parse: a finding).
[[noreturn]] void finding(const std::string& what);

}  // namespace dq::fuzz

#define DQ_FUZZ_TARGET(name)                                                                          \
  static void dq_fuzz_##name(std::string_view input);                                                 \
  [[maybe_unused]] static const int dq_fuzz_registered_##name =                                       \
      ::dq::fuzz::register_target(#name, &dq_fuzz_##name);                                            \
  static void dq_fuzz_##name(std::string_view input)
