#include "datasets/class_folders.h"

#include <fmt/format.h>
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <cctype>
#include <cerrno>
#include <cstring>
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

SourceFile source_file(std::string path, const struct stat& st) {
  return {std::move(path), static_cast<int64_t>(st.st_size), int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
}

// Appends the image files under `dir` (recursively, following symlinks). Plain readdir + fstatat:
// a CIFAR-10 tree is 60,000 files, and std::filesystem's per-entry overhead was most of the
// fingerprint's cost.
void walk(const std::string& dir, int depth, std::vector<SourceFile>& files, int64_t* ignored) {
  if (depth > 64) throw Error(fmt::format("{}: folders nested more than 64 deep (a symlink loop?)", dir));
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw Error(fmt::format("{}: cannot list folder: {}", dir, std::strerror(errno)));
  const int fd = ::dirfd(d);
  std::vector<std::string> subdirs;
  while (const dirent* e = ::readdir(d)) {
    const char* name = e->d_name;
    if (name[0] == '.') {  // ".", "..", hidden files and folders
      if (std::strcmp(name, ".") != 0 && std::strcmp(name, "..") != 0) ++*ignored;
      continue;
    }
    struct stat st{};
    if (e->d_type == DT_DIR) {
      subdirs.emplace_back(name);
      continue;
    }
    if (e->d_type != DT_REG && e->d_type != DT_LNK && e->d_type != DT_UNKNOWN) {
      ++*ignored;
      continue;
    }
    if (::fstatat(fd, name, &st, 0) != 0) {
      ::closedir(d);
      throw Error(fmt::format("{}/{}: cannot stat: {}", dir, name, std::strerror(errno)));
    }
    if (S_ISDIR(st.st_mode)) subdirs.emplace_back(name);
    else if (S_ISREG(st.st_mode) && has_image_extension(name)) files.push_back(source_file(dir + "/" + name, st));
    else ++*ignored;
  }
  ::closedir(d);
  for (const auto& sub : subdirs) walk(dir + "/" + sub, depth + 1, files, ignored);
}

std::vector<SourceFile> list_class_files(const fs::path& dir, int64_t* ignored) {
  std::vector<SourceFile> files;
  walk(dir.string(), 0, files, ignored);
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
  // Class folders are listed in parallel (stat calls are the cost); each lands in its own slot.
  const size_t classes = scan.class_names.size();
  scan.files.resize(classes);
  std::vector<int64_t> ignored(classes, 0);
  std::vector<std::exception_ptr> errors(classes);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t c; (c = next++) < classes;) {
      try {
        scan.files[c] = list_class_files(fs::path(root) / scan.class_names[c], &ignored[c]);
      } catch (...) {
        errors[c] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  const size_t threads = std::min<size_t>(classes, std::max(1u, std::thread::hardware_concurrency()));
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (size_t c = 0; c < classes; ++c) {
    if (errors[c]) std::rethrow_exception(errors[c]);
    scan.ignored_files += ignored[c];
    if (scan.files[c].empty())
      throw Error(fmt::format("{}: class folder {} holds no image file (.jpg .jpeg .png ...)", what,
                              (fs::path(root) / scan.class_names[c]).string()));
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
    struct stat st{};
    if (::stat(entry.path().c_str(), &st) != 0) throw Error(fmt::format("{}: cannot stat file", entry.path().string()));
    files.push_back(source_file(entry.path().string(), st));
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
