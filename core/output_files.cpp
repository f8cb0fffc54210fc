#include "core/output_files.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"

namespace dq {
namespace fs = std::filesystem;

namespace {
// The same file whether or not it exists yet ("a/../b.npy" and "b.npy" compare equal).
bool same_file(const std::string& a, const std::string& b) {
  std::error_code ea, eb;
  const fs::path pa = fs::weakly_canonical(a, ea), pb = fs::weakly_canonical(b, eb);
  return !ea && !eb ? pa == pb : a == b;
}
}  // namespace

OutputFiles::~OutputFiles() {
  if (committed_) return;
  for (const auto& e : entries_) std::remove(e.temp.c_str());
}

std::string OutputFiles::add(const std::string& option, const std::string& path,
                             const std::vector<std::pair<std::string, std::string>>& inputs) {
  DQ_ASSERT(!committed_, "OutputFiles::add after commit");
  if (path.empty()) throw Error(fmt::format("{}: empty path", option));
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw Error(fmt::format("{} {}: folder {} does not exist", option, path, parent.string()));
  if (fs::is_directory(path, ec)) throw Error(fmt::format("{} {}: is a folder, expected a file name", option, path));
  // A device, pipe or socket would be replaced by the rename (as root, /dev/null became a file).
  const fs::file_status status = fs::status(path, ec);
  if (fs::exists(status) && !fs::is_regular_file(status))
    throw Error(fmt::format("{} {}: not a regular file (a device, pipe or socket); give a file path", option, path));
  const std::string folder = parent.empty() ? "." : parent.string();
  if (::access(folder.c_str(), W_OK | X_OK) != 0)
    throw Error(fmt::format("{} {}: cannot write in folder {}: {}", option, path, folder, std::strerror(errno)));
  for (const auto& e : entries_)
    if (same_file(e.path, path)) throw Error(fmt::format("{} {}: the same file as {}", option, path, e.option));
  for (const auto& [input_option, input] : inputs)
    if (!input.empty() && same_file(input, path))
      throw Error(fmt::format("{} {}: would overwrite the input {}", option, path, input_option));
  entries_.push_back({option, path, temporary_path_beside(path)});
  return entries_.back().temp;
}

void OutputFiles::commit() {
  DQ_ASSERT(!committed_, "OutputFiles::commit twice");
  for (const auto& e : entries_)
    if (!fs::exists(e.temp)) throw Error(fmt::format("{} {}: was never written", e.option, e.path));
  for (const auto& e : entries_) {
    try {
      rename_into_place(e.temp, e.path);
    } catch (const Error& error) {
      throw Error(fmt::format("{} {}", e.option, error.what()));  // "--out ids.npy: cannot write: ..."
    }
  }
  committed_ = true;
}

}  // namespace dq
