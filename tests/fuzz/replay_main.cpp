// dq_fuzz_replay: runs a fuzz target (fuzz_target.h) over files, as ctest does with the committed
// corpora and regression inputs, built with the project's compiler (no clang, no libFuzzer).
//   dq_fuzz_replay [-v] TARGET PATH...   (a folder is read recursively, in sorted order; -v prints
//                                         each input's outcome: accepted, or the error's first line)
//   dq_fuzz_replay --list
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.h"

namespace {
// As libFuzzer's -rss_limit_mb (scripts/fuzz.sh), a cap on memory, so that an input that makes a reader
// ask for gigabytes fails here too (as std::bad_alloc, a finding). Not under AddressSanitizer or
// ThreadSanitizer, which reserve terabytes of address space for their shadow.
void cap_address_space() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return;
#else
  rlimit limit{};
  limit.rlim_cur = limit.rlim_max = rlim_t{3} << 30;
  setrlimit(RLIMIT_AS, &limit);
#endif
}
}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  cap_address_space();
  if (argc == 2 && std::string(argv[1]) == "--list") {
    for (const auto& name : dq::fuzz::target_names()) std::printf("%s\n", name.c_str());
    return 0;
  }
  const bool verbose = argc > 1 && std::string(argv[1]) == "-v";
  if (verbose) {
    --argc;
    ++argv;
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: dq_fuzz_replay [-v] TARGET PATH... | --list\n");
    return 2;
  }
  const dq::fuzz::TargetFn fn = dq::fuzz::find_target(argv[1]);
  if (!fn) {
    std::fprintf(stderr, "no fuzz target '%s' (--list names them)\n", argv[1]);
    return 2;
  }
  std::vector<fs::path> files;
  for (int i = 2; i < argc; ++i) {
    if (fs::is_directory(argv[i])) {
      for (const auto& e : fs::recursive_directory_iterator(argv[i]))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (fs::is_regular_file(argv[i])) {
      files.push_back(argv[i]);
    } else {
      std::fprintf(stderr, "%s: no such file or folder\n", argv[i]);
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "no inputs for '%s'\n", argv[1]);
    return 2;
  }
  size_t accepted = 0;
  for (const auto& f : files) {
    std::fprintf(stderr, "%s\n", f.string().c_str());  // the last name printed is the culprit of a crash
    std::ifstream in(f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string error = dq::fuzz::run_one(fn, bytes);
    accepted += error.empty();
    if (verbose) std::fprintf(stderr, "  %s\n", error.empty() ? "accepted" : error.substr(0, error.find('\n')).c_str());
  }
  std::printf("ok: %s: %zu inputs (%zu accepted, the others refused with a clear error)\n", argv[1], files.size(),
              accepted);
  return 0;
}
