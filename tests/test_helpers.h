#pragma once
// Shared helpers for tests: a fresh scratch folder per test.
#include <cstdlib>
#include <filesystem>
#include <string>

namespace dq::test {
// A new empty folder under $DQ_TEST_TMP (set by ctest) or /tmp, named after `name`.
inline std::filesystem::path scratch_dir(const std::string& name) {
  const char* root = std::getenv("DQ_TEST_TMP");
  std::filesystem::path dir = std::filesystem::path(root ? root : "/tmp/dqbench-tests") / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}
}  // namespace dq::test
