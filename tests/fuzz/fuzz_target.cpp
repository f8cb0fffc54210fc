// The fuzz targets' registry and helpers (fuzz_target.h).
#include "tests/fuzz/fuzz_target.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

#include "core/error.h"

namespace dq::fuzz {

namespace {
std::map<std::string, TargetFn>& targets() {
  static std::map<std::string, TargetFn> t;
  return t;
}
}  // namespace

int register_target(const char* name, TargetFn fn) {
  targets()[name] = fn;
  return 0;
}

TargetFn find_target(const std::string& name) {
  const auto it = targets().find(name);
  return it == targets().end() ? nullptr : it->second;
}

std::vector<std::string> target_names() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : targets()) names.push_back(name);
  return names;
}

void finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

std::string run_one(TargetFn fn, std::string_view input) {
  try {
    fn(input);
  } catch (const dq::Error& e) {
    if (std::string_view(e.what()).empty()) finding("a dq::Error with an empty message");
    return e.what();
  } catch (const std::exception& e) {
    finding(std::string("an exception other than dq::Error escaped: ") + typeid(e).name() + ": " + e.what());
  } catch (...) {
    finding("a non-std exception escaped");
  }
  return "";
}

namespace {
// This process's folder, removed when the process exits.
const std::filesystem::path& scratch_path() {
  namespace fs = std::filesystem;
  static const fs::path dir = [] {
    std::error_code ec;
    const fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(scratch_path(), ignored);
    });
    return base / ("dq-fuzz-" + std::to_string(::getpid()));
  }();
  return dir;
}
}  // namespace

std::filesystem::path scratch() {
  std::error_code ec;
  std::filesystem::remove_all(scratch_path(), ec);
  std::filesystem::create_directories(scratch_path());
  return scratch_path();
}

void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) finding("cannot write the scratch file " + path.string());
}

std::vector<std::string_view> split_parts(std::string_view input, size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const size_t at = input.find(kPartSeparator);
    if (at == std::string_view::npos) break;
    parts.push_back(input.substr(0, at));
    input.remove_prefix(at + kPartSeparator.size());
  }
  parts.push_back(input);
  return parts;
}

}  // namespace dq::fuzz
