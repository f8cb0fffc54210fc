#pragma once
// The one way a cache file (decoded datasets, embeddings, bins, KNN graphs, ...) reaches the disk:
// written under a unique temporary name in the same folder, flushed to disk (fsync), renamed into
// place on commit(), removed on failure. Readers see no file or a complete one, and processes sharing
// a cache folder (Slurm tasks) never clobber each other's temporaries; the last rename wins, and all
// writers of one key write the same bytes.
//
// The one policy for reading them: a cache file that is missing, truncated or does not match its key
// is a miss: it is rebuilt and replaced (warn_cache_rebuild says so once). Caches are optional: a
// failed write is a warning (write_cache_file), never a failed cell.
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace dq {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);  // throws dq::Error if the temporary cannot be created
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();  // removes the temporary file unless committed
  void write(const void* data, size_t bytes);  // throws dq::Error (disk full, ...)
  void commit();                               // fsync + rename; throws dq::Error
  const std::string& temporary_path() const { return tmp_path_; }

 private:
  std::string path_, tmp_path_;
  std::FILE* file_ = nullptr;
};

// Creates the parent folder and writes `path` with `fill` through an AtomicFileWriter (commit is done
// here). On any failure prints "warning: could not write <what> cache <path>: <why>" to stderr and
// returns false; the temporary is gone either way.
bool write_cache_file(const std::string& path, const std::string& what,
                      const std::function<void(AtomicFileWriter&)>& fill);
// The same for a writer that makes its own AtomicFileWriter (write_npy): runs `write` after creating
// the parent folder; a failure is the same warning and `false`.
bool try_write_cache(const std::string& path, const std::string& what, const std::function<void()>& write);

// The two steps every atomic write here shares (AtomicFileWriter, and core/output_files.h for a
// command's outputs that other writers fill):
// a fresh temporary name beside `path`, "<path>.tmp.<pid>.<8 random hex digits>" (same folder, so
// the rename stays on one file system; unique per writer, so concurrent writers never share one);
std::string temporary_path_beside(const std::string& path);
// and renaming `temporary` onto `path` (atomic: readers see the old file or the new one). Throws
// dq::Error "<path>: cannot write: <why>" and leaves `temporary` for the caller to remove.
void rename_into_place(const std::string& temporary, const std::string& path);

// "warning: rebuilding <what> cache <path>: <why>" on stderr.
void warn_cache_rebuild(const std::string& what, const std::string& path, const std::string& why);

}  // namespace dq
