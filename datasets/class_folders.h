#pragma once
// Listing ImageFolder-style trees: root/<class>/.../<file>. Classes are the sorted names of the
// sub-folders (byte order, as Python's sorted()); files are found recursively, sorted by relative
// path, and kept when their extension is one of torchvision's image extensions (case-insensitive).
// The extension only decides what is a candidate: the decoder then sniffs the real format, so a
// PNG named .JPEG decodes and a .bmp is reported as unsupported instead of vanishing.
#include <cstdint>
#include <string>
#include <vector>

namespace dq {

struct SourceFile {
  std::string path;  // full path
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

struct ClassFolderScan {
  std::string root;
  std::vector<std::string> class_names;
  std::vector<std::vector<SourceFile>> files;  // per class, sorted by relative path
  int64_t ignored_files = 0;                   // non-image extensions and hidden entries
};

bool has_image_extension(const std::string& file_name);

// Throws dq::Error naming `what` and the path when root is missing, has no class folders, or a
// class folder holds no image file.
ClassFolderScan scan_class_folders(const std::string& root, const std::string& what);

// Label of each class folder of `other` (e.g. the test split) = index of the same name in the sorted
// `class_names` (the train classes). Throws dq::Error naming `what` for a name not among them.
std::vector<int64_t> labels_by_name(const std::vector<std::string>& class_names, const ClassFolderScan& other,
                                    const std::string& what);

// The image files directly inside `dir` (not recursive), sorted by name.
std::vector<SourceFile> list_image_files(const std::string& dir, const std::string& what, int64_t* ignored_files);

// SHA-256 over (relative path, size, mtime) of every file: changes when a file is added, removed,
// replaced or touched.
std::string scan_digest(const ClassFolderScan& scan);
std::string files_digest(const std::string& root, const std::vector<SourceFile>& files);

}  // namespace dq
