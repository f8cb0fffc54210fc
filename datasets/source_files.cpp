#include "datasets/source_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "core/error.h"

namespace dq {

void read_file_bytes(const std::string& path, std::vector<uint8_t>& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(fmt::format("{}: not a regular file", path));
  }
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t got = ::read(fd, out.data() + done, out.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      const std::string why = got < 0 ? std::strerror(errno) : "file shrank while reading";
      ::close(fd);
      throw Error(fmt::format("{}: read failed after {} of {} bytes: {}", path, done, out.size(), why));
    }
    done += static_cast<size_t>(got);
  }
  ::close(fd);
}

std::string read_text_file(const std::string& path) {
  std::vector<uint8_t> bytes;
  read_file_bytes(path, bytes);
  return std::string(bytes.begin(), bytes.end());
}

std::vector<std::string> read_text_lines(const std::string& path) {
  const std::string text = read_text_file(path);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  while (!lines.empty() && lines.back().find_first_not_of(" \t") == std::string::npos) lines.pop_back();
  return lines;
}

void require_directory(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) throw Error(fmt::format("{} not found: {} (expected a folder)", what, path));
}

void require_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(fmt::format("{} not found: {} (expected a file)", what, path));
}

std::string file_identity(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) throw Error(fmt::format("{}: file not found", path));
  return fmt::format("{}:{}:{}.{:09}", path, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

std::string params_identity(const Params& params) {
  std::string out;
  for (const auto& [k, v] : params.values())
    if (k != "threads") out += (out.empty() ? "" : ",") + k + "=" + param_value_to_string(v);
  return out;
}

}  // namespace dq
