// ImageFolder trees (torchvision's convention): <path>/train/<class>/*.jpg and <path>/test/<class>/
// (or <path>/val/<class>/), or explicit train_path / test_path. Classes are the sorted train
// sub-folder names; test classes must be among them. Serves the CIFAR-10 JPEG copy and any
// prepared ImageNet-style layout.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "datasets/class_folders.h"
#include "datasets/dataset.h"
#include "datasets/image_files.h"
#include "datasets/source_files.h"

namespace dq {
namespace {

struct FolderPaths {
  std::string train, test;
};

// The kind's own keys (the decoding keys are image_decode_table()'s).
struct ImageFolderOptions {
  std::string path, train_path, test_path;
  int64_t max_per_class = 0, max_test_per_class = 0;  // 0 = all
};

const ParamTable<ImageFolderOptions>& image_folder_table() {
  using O = ImageFolderOptions;
  static const ParamTable<ImageFolderOptions> table{{
      field({.name = "path", .help = "folder holding train/ and test/ (or val/) class folders"}, &O::path),
      field({.name = "train_path", .help = "train class folders (overrides <path>/train)"}, &O::train_path),
      field({.name = "test_path", .help = "test class folders (overrides <path>/test)"}, &O::test_path),
      field({.name = "max_per_class", .help = "keep the first N train files of each class (0 = all)", .min = 0},
            &O::max_per_class),
      field({.name = "max_test_per_class", .help = "keep the first N test files of each class (0 = all)", .min = 0},
            &O::max_test_per_class),
  }};
  return table;
}

FolderPaths resolve_paths(const ImageFolderOptions& o) {
  const std::string& root = o.path;
  FolderPaths out{o.train_path, o.test_path};
  if (root.empty() && (out.train.empty() || out.test.empty()))
    throw Error("image_folder: give 'path' (a folder with train/ and test/ sub-folders) or both 'train_path' and "
                "'test_path'");
  if (out.train.empty()) out.train = root + "/train";
  if (out.test.empty()) {
    std::error_code ec;
    out.test = std::filesystem::is_directory(root + "/test", ec) || !std::filesystem::is_directory(root + "/val", ec)
                   ? root + "/test"
                   : root + "/val";
  }
  return out;
}

Dataset load_image_folder(const Params& p) {
  const ImageFolderOptions o = image_folder_table().parse(p);
  const FolderPaths paths = resolve_paths(o);
  const ClassFolderScan train = scan_class_folders(paths.train, "image_folder train folder");
  const ClassFolderScan test = scan_class_folders(paths.test, "image_folder test folder");
  const ImageDecodeOptions options = image_decode_options(p);
  Dataset d;
  d.kind = "image_folder";
  d.class_names = train.class_names;
  std::vector<int64_t> train_labels(train.class_names.size());
  for (size_t c = 0; c < train_labels.size(); ++c) train_labels[c] = static_cast<int64_t>(c);
  d.train = decode_image_files(labelled_files(train, train_labels, o.max_per_class), d.class_names, options, "train",
                               d.load_report);
  d.test = decode_image_files(labelled_files(test, labels_by_name(train.class_names, test, "image_folder test folder"), o.max_test_per_class),
                              d.class_names, options, "test", d.load_report);
  d.load_report["ignored_files"] = static_cast<double>(train.ignored_files + test.ignored_files);
  validate_dataset(d, paths.train);
  return d;
}

std::string fingerprint_image_folder(const Params& p) {
  const FolderPaths paths = resolve_paths(image_folder_table().parse(p));
  const std::string train = scan_digest(scan_class_folders(paths.train, "image_folder train folder"));
  const std::string test = scan_digest(scan_class_folders(paths.test, "image_folder test folder"));
  return fmt::format("image_folder|{}|train={}|test={}", params_identity(p), train, test);
}

DatasetLoaderInfo make_image_folder_info() {
  DatasetLoaderInfo info;
  info.kind = "image_folder";
  info.description = "ImageFolder tree of JPEG/PNG files: <path>/{train,test|val}/<class>/<images>";
  info.params = image_folder_table().specs();
  append_image_decode_params(info.params, false);
  info.load = load_image_folder;
  info.fingerprint = fingerprint_image_folder;
  return info;
}

}  // namespace
DQ_REGISTER_DATASET(make_image_folder_info);
}  // namespace dq
