#include "core/atomic_file.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "core/error.h"

namespace dq {

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  std::random_device entropy;  // only names the temporary file; never reaches the data
  tmp_path_ = fmt::format("{}.tmp.{}.{:08x}", path_, ::getpid(), entropy());
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
  if (!ok || std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    const int why = ok ? errno : err;
    std::remove(tmp_path_.c_str());
    throw Error(fmt::format("{}: cannot write: {}", path_, std::strerror(why)));
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
