#pragma once
// The output files of one command, written all or nothing: each goes first to a temporary beside
// its final path (named as core/atomic_file.h names them, unique per writer), and commit() renames
// them into place (atomic_file.h's rename_into_place) only once every one is written. An object
// destroyed without commit() (the command failed) removes its temporaries, so a failing command
// leaves no partial output, and an existing file of the same name is left as it was.
// (core/atomic_file.h's AtomicFileWriter does the same for one streamed file of a cache.)
#include <string>
#include <utility>
#include <vector>

namespace dq {

class OutputFiles {
 public:
  OutputFiles() = default;
  OutputFiles(const OutputFiles&) = delete;
  OutputFiles& operator=(const OutputFiles&) = delete;
  ~OutputFiles();

  // Registers the output `path` given by `option` ("--out") before any work, and returns the
  // temporary path to write it to. Throws dq::Error naming the option when the folder does not
  // exist or is not writable, the path is a folder or another non-regular file (/dev/null, a pipe:
  // the rename would replace it), or it is the same file as an earlier output or as one of `inputs`
  // (option, path pairs) — writing it would overwrite what the command reads.
  std::string add(const std::string& option, const std::string& path,
                  const std::vector<std::pair<std::string, std::string>>& inputs = {});

  // Renames every temporary into place (in registration order). Throws dq::Error naming the file
  // if a temporary is missing (never written) or cannot be renamed.
  void commit();

 private:
  struct Entry {
    std::string option, path, temp;
  };
  std::vector<Entry> entries_;
  bool committed_ = false;
};

}  // namespace dq
