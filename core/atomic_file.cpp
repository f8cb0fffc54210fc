#include "core/atomic_file.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "core/error.h"

namespace dq {

std::string temporary_path_beside(const std::string& path) {
  std::random_device entropy;  // only names the temporary file; never reaches the data
  return fmt::format("{}.tmp.{}.{:08x}", path, ::getpid(), entropy());
}

void rename_into_place(const std::string& temporary, const std::string& path) {
  if (std::rename(temporary.c_str(), path.c_str()) != 0)
    throw Error(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
}

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  tmp_path_ = temporary_path_beside(path_);
  file_ = std::fopen(tmp_path_.c_str(), "wbx");  // x: never open another writer's temporary
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
  if (!ok) {
    std::remove(tmp_path_.c_str());
    throw Error(fmt::format("{}: cannot write: {}", path_, std::strerror(err)));
  }
  try {
    rename_into_place(tmp_path_, path_);
  } catch (const Error&) {
    std::remove(tmp_path_.c_str());
    throw;
  }
}

bool write_cache_file(const std::string& path, const std::string& what,
                      const std::function<void(AtomicFileWriter&)>& fill) {
  return try_write_cache(path, what, [&] {
    AtomicFileWriter out(path);
    fill(out);
    out.commit();
  });
}

bool try_write_cache(const std::string& path, const std::string& what, const std::function<void()>& write) {
  try {
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    write();
    return true;
  } catch (const std::exception& e) {  // std::filesystem errors too; a cache costs speed, never the result
    fmt::print(stderr, "warning: could not write {} cache {}: {}\n", what, path, e.what());
    return false;
  }
}

void warn_cache_rebuild(const std::string& what, const std::string& path, const std::string& why) {
  fmt::print(stderr, "warning: rebuilding {} cache {}: {}\n", what, path, why);
}

}  // namespace dq
