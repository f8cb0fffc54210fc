#include "datasets/class_folders.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/error.h"
#include "core/hashing.h"
#include "datasets/source_files.h"

namespace fs = std::filesystem;

namespace dq {

bool has_image_extension(const std::string& file_name) {
  static const char* const extensions[] = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
  const auto dot = file_name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = file_name.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return std::find(std::begin(extensions), std::end(extensions), ext) != std::end(extensions);
}

namespace {

bool hidden(const fs::path& p) { return p.filename().string().starts_with("."); }

SourceFile stat_file(const fs::path& p) {
  struct stat st{};
  if (::stat(p.c_str(), &st) != 0) throw Error(fmt::format("{}: cannot stat file", p.string()));
  return {p.string(), static_cast<int64_t>(st.st_size), int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
}

std::vector<SourceFile> list_class_files(const fs::path& dir, int64_t* ignored) {
  std::vector<SourceFile> files;
  auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink);
  for (auto entry = fs::begin(it); entry != fs::end(it); ++entry) {
    if (hidden(entry->path())) {
      ++*ignored;
      if (entry->is_directory()) entry.disable_recursion_pending();
      continue;
    }
    if (entry->is_directory()) continue;
    if (!has_image_extension(entry->path().filename().string())) {
      ++*ignored;
      continue;
    }
    files.push_back(stat_file(entry->path()));
  }
  std::sort(files.begin(), files.end(), [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  return files;
}

}  // namespace

ClassFolderScan scan_class_folders(const std::string& root, const std::string& what) {
  require_directory(root, what);
  ClassFolderScan scan;
  scan.root = root;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (hidden(entry.path())) {
      ++scan.ignored_files;
      continue;
    }
    if (entry.is_directory()) scan.class_names.push_back(entry.path().filename().string());
    else ++scan.ignored_files;  // files beside the class folders belong to no class
  }
  if (scan.class_names.empty())
    throw Error(fmt::format("{}: no class sub-folders in {} (expected <root>/<class>/<image files>)", what, root));
  std::sort(scan.class_names.begin(), scan.class_names.end());
  for (const auto& name : scan.class_names) {
    scan.files.push_back(list_class_files(fs::path(root) / name, &scan.ignored_files));
    if (scan.files.back().empty())
      throw Error(fmt::format("{}: class folder {} holds no image file (.jpg .jpeg .png ...)", what,
                              (fs::path(root) / name).string()));
  }
  return scan;
}

std::vector<int64_t> labels_by_name(const std::vector<std::string>& class_names, const ClassFolderScan& other,
                                    const std::string& what) {
  std::vector<int64_t> labels;
  for (const auto& name : other.class_names) {
    const auto it = std::lower_bound(class_names.begin(), class_names.end(), name);
    if (it == class_names.end() || *it != name)
      throw Error(fmt::format("{}: class folder {}/{} has no train class of the same name", what, other.root, name));
    labels.push_back(it - class_names.begin());
  }
  return labels;
}

std::vector<SourceFile> list_image_files(const std::string& dir, const std::string& what, int64_t* ignored) {
  require_directory(dir, what);
  std::vector<SourceFile> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (hidden(entry.path()) || entry.is_directory() || !has_image_extension(entry.path().filename().string())) {
      ++*ignored;
      continue;
    }
    files.push_back(stat_file(entry.path()));
  }
  std::sort(files.begin(), files.end(), [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  return files;
}

std::string files_digest(const std::string& root, const std::vector<SourceFile>& files) {
  std::string text;
  text.reserve(files.size() * 48);
  for (const auto& f : files) {
    // The root itself is part of the loader's params; the digest covers what lies below it.
    const std::string rel = f.path.starts_with(root) ? f.path.substr(root.size()) : f.path;
    text += fmt::format("{}\t{}\t{}\n", rel, f.size, f.mtime_ns);
  }
  return sha256_hex(text);
}

std::string scan_digest(const ClassFolderScan& scan) {
  std::string text;
  for (size_t c = 0; c < scan.class_names.size(); ++c)
    text += scan.class_names[c] + "=" + files_digest(scan.root, scan.files[c]) + "\n";
  return sha256_hex(text);
}

}  // namespace dq
