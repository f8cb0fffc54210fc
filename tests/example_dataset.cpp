// The worked example of datasets/README.md ("Adding a loader"): a complete dataset loader in one
// file, beside tests/example_method.cpp. It is compiled into the tests and exercised by
// test_example_dataset.cpp, so the README's example always builds and works. To add a real loader,
// put a file like this in datasets/ and name it in DQ_DATASETS_SOURCES.
//
// Kind `example_npy_images`: a folder holding images and labels as .npy arrays,
//   <path>/train_images.npy  uint8, N x C x H x W     <path>/train_labels.npy  integers in [0, classes)
//   <path>/test_images.npy   uint8, M x C x H x W     <path>/test_labels.npy   integers in [0, classes)
// with the classes named "0", "1", ... (as a user's own preprocessed dataset might come).
#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "core/error.h"
#include "core/npy.h"
#include "core/param_table.h"
#include "datasets/dataset.h"
#include "datasets/source_files.h"

namespace dq {
namespace {

// One split: both files must exist and agree (every mistake a dq::Error naming the file).
ImageSet read_split(const std::string& folder, const std::string& split) {
  const std::string images_path = folder + "/" + split + "_images.npy", labels_path = folder + "/" + split + "_labels.npy";
  require_file(images_path, "example_npy_images " + split + " images");
  require_file(labels_path, "example_npy_images " + split + " labels");
  const NpyArray images = read_npy(images_path);
  if (images.dtype != "u1" || images.shape.size() != 4)
    throw Error(fmt::format("{}: expected uint8 images N x C x H x W, got dtype {} with {} dimensions", images_path,
                            images.dtype, images.shape.size()));
  ImageSet set;
  set.n = images.shape[0], set.channels = images.shape[1], set.height = images.shape[2], set.width = images.shape[3];
  set.pixels.assign(images.bytes.begin(), images.bytes.end());
  set.labels = read_npy(labels_path).as_int64(labels_path);
  if (static_cast<int64_t>(set.labels.size()) != set.n)
    throw Error(fmt::format("{}: {} labels for the {} images of {}", labels_path, set.labels.size(), set.n, images_path));
  return set;
}

// The kind's options, and its table: each parameter declared once, bound to its member (which gives
// its type and default). YAML and spec strings are validated against the table's specs; the loader
// parses validated params once and reads fields, never names (ctest params_read_by_name).
struct NpyImagesOptions {
  std::string path;  // the folder holding the four .npy files
};

const ParamTable<NpyImagesOptions>& npy_images_table() {
  static const ParamTable<NpyImagesOptions> table{{
      field({.name = "path", .help = "the folder holding the four .npy files"}, &NpyImagesOptions::path),
  }};
  return table;
}

// Cheap identity of the source (no decoding), recorded by the load below and asked by the decode cache before loading.
std::string fingerprint_of(const Params& p) {
  const NpyImagesOptions o = npy_images_table().parse(p);
  std::string text = "example_npy_images|" + params_identity(p);
  for (const char* name : {"train_images", "train_labels", "test_images", "test_labels"})
    text += "|" + file_identity(o.path + "/" + name + ".npy");
  return text;
}

Dataset load_npy_images(const Params& p) {
  const std::string folder = npy_images_table().parse(p).path;
  require_directory(folder, "example_npy_images path");
  Dataset d;
  d.kind = "example_npy_images";
  d.train = read_split(folder, "train");
  d.test = read_split(folder, "test");
  int64_t classes = 0;
  for (int64_t label : d.train.labels) classes = std::max(classes, label + 1);
  for (int64_t c = 0; c < classes; ++c) d.class_names.push_back(std::to_string(c));
  // The decode cache's key: where the bytes came from (each file's path, size and mtime) and the options.
  d.fingerprint = fingerprint_of(p);
  validate_dataset(d, folder);  // labels in range, sizes, a non-empty train split: the shared contract
  return d;
}

DatasetLoaderInfo make_npy_images_info() {
  DatasetLoaderInfo info;
  info.kind = "example_npy_images";
  info.description = "Worked example: images and labels as .npy arrays in one folder (train_/test_ images and labels)";
  info.params = npy_images_table().specs();
  info.load = load_npy_images;
  info.fingerprint = fingerprint_of;
  info.provides_images = true;  // images: ADQ, the patch stage and training can use them
  return info;
}

}  // namespace
DQ_REGISTER_DATASET(make_npy_images_info);  // the one registration line
}  // namespace dq
