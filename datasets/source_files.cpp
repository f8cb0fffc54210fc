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

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  std::random_device entropy;  // only names the temporary file; never reaches the data
  tmp_path_ = fmt::format("{}.tmp.{}.{:08x}", path_, ::getpid(), entropy());
  file_ = std::fopen(tmp_path_.c_str(), "wb");
  if (!file_) throw Error(fmt::format("{}: cannot create: {}", tmp_path_, std::strerror(errno)));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (file_) {
    std::fclose(file_);
    std::remove(tmp_path_.c_str());
  }
}

void AtomicFileWriter::write(const void* data, size_t bytes) {
  DQ_ASSERT(file_, "write after commit");
  if (bytes && std::fwrite(data, 1, bytes, file_) != bytes)
    throw Error(fmt::format("{}: write failed: {}", tmp_path_, std::strerror(errno)));
}

void AtomicFileWriter::commit() {
  DQ_ASSERT(file_, "commit twice");
  const bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  const int err = errno;
  std::fclose(file_);
  file_ = nullptr;
  if (!ok || std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    std::remove(tmp_path_.c_str());
    throw Error(fmt::format("{}: cannot write: {}", path_, std::strerror(ok ? errno : err)));
  }
}

}  // namespace dq
