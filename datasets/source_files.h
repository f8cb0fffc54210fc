#pragma once
// Small file helpers shared by the loaders: whole-file reads with errors that name the file, text
// lines, existence checks, and the identity of sources for cache fingerprints. (The decode cache writes
// through core/atomic_file.h.)
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/params.h"

namespace dq {

// Reads a whole file into `out` (reusing its capacity). Throws dq::Error naming the file.
void read_file_bytes(const std::string& path, std::vector<uint8_t>& out);
std::string read_text_file(const std::string& path);

// Lines of a text file without their "\n" / "\r\n"; trailing blank lines are dropped.
std::vector<std::string> read_text_lines(const std::string& path);

// Throws dq::Error "<what> not found: <path>" unless `path` is an existing folder / regular file.
void require_directory(const std::string& path, const std::string& what);
void require_file(const std::string& path, const std::string& what);

// "path:size:mtime_ns" of a file (throws if it does not exist).
std::string file_identity(const std::string& path);

// The loader options that change the decoded data, as canonical text: `threads` changes only the
// speed, so a cache built with 1 thread serves a run with 8.
std::string params_identity(const Params& params);


}  // namespace dq
