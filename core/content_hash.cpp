#include "core/content_hash.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/hashing.h"

namespace dq {

namespace {

constexpr const char* kSidecarFormat = "dq-sha256/1";
constexpr int64_t kRacyNs = 2'000'000'000;  // a ctime this close to the hashing moment is not trusted

struct FileState {
  int64_t size = 0, inode = 0, mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileState&) const = default;
};

bool stat_file(const std::string& path, FileState& out) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return false;
  out.size = st.st_size;
  out.inode = static_cast<int64_t>(st.st_ino);
  out.mtime_ns = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
  out.ctime_ns = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec;
  return true;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string content_hash_sidecar(const std::string& path) { return path + ".sha256"; }

std::string file_content_sha256(const std::string& path) {
  FileState before;
  if (!stat_file(path, before)) throw Error(fmt::format("{}: cannot read the file to hash it", path));
  const std::string sidecar = content_hash_sidecar(path);
  {
    std::ifstream in(sidecar);
    std::string format, sha;
    FileState recorded;
    int64_t hashed_at = 0;
    if (in >> format >> sha >> recorded.size >> recorded.inode >> recorded.mtime_ns >> recorded.ctime_ns >> hashed_at &&
        format == kSidecarFormat && sha.size() == 64 && recorded == before && before.ctime_ns + kRacyNs < hashed_at)
      return sha;
  }
  const int64_t hashed_at = now_ns();
  const std::string sha = sha256_file_hex(path);
  FileState after;
  // Remembered only if the file did not change while it was read.
  if (stat_file(path, after) && after == before) {
    const std::string text =
        fmt::format("{} {} {} {} {} {} {}\n", kSidecarFormat, sha, before.size, before.inode, before.mtime_ns,
                    before.ctime_ns, hashed_at);
    try {
      AtomicFileWriter out(sidecar);
      out.write(text.data(), text.size());
      out.commit();
    } catch (const Error&) {
      // A read-only cache folder: hashed again next time.
    }
  }
  return sha;
}

}  // namespace dq
