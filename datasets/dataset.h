#pragma once
// The one dataset interface every loader produces: decoded uint8 images (core/image_set.h: N x C x H x W,
// row-major) with int64 labels and class names, or, for embedding-level scale data, features directly.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/image_set.h"
#include "core/params.h"
#include "core/registry.h"

namespace dq {

struct Dataset {
  std::string kind;                      // loader kind, e.g. "fashion_mnist"
  std::vector<std::string> class_names;  // index = label
  ImageSet train;
  ImageSet test;
  // Embedding-level datasets (e.g. synthetic scale data) have no images: features are given.
  int64_t feature_dim = 0;
  std::vector<float> train_features;     // train.n x feature_dim when feature_dim > 0
  // What the loader skipped or noticed ("skipped_bad_images": 3), reported with every cell.
  std::map<std::string, double> load_report;
  // Identity of the source files and options (and the decoding code): the decoded-dataset cache's key.
  std::string fingerprint;
  // sha256 of the decoded content (dataset_content_sha256), set by load_dataset; every artefact made
  // from the dataset (extractor network, embeddings, MAE) keys on it, and each cell records it.
  std::string content_sha256;

  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  bool has_images() const {
    return train.n > 0 && train.image_bytes() > 0 &&
           train.pixels.size() == static_cast<size_t>(train.n * train.image_bytes());
  }
};

// sha256 of what the dataset holds, independent of where it came from: class names, both splits'
// shapes, pixels and labels, and the features. The same images and labels from another copy of the
// files give the same hash.
std::string dataset_content_sha256(const Dataset& dataset);
// dataset.content_sha256, or dataset_content_sha256(dataset) when it was not set (a dataset built in
// code rather than loaded).
std::string dataset_identity(const Dataset& dataset);

// Checks the invariants every loader promises (a non-empty train split, label range, sizes, finite
// features: core/embedding_check.h); throws dq::Error naming `source`.
void validate_dataset(const Dataset& dataset, const std::string& source);

// The sizes a dataset will have, known from its parameters before anything is loaded (synthetic
// data): training samples, rows of the largest class, the width of its features (the embeddings of
// extractor kind none; 0 when it carries none: an image dataset's embedding width is the extractor's),
// and the sides of its images in px (0 without images).
struct DatasetSizes {
  int64_t train = 0;
  int64_t largest_class = 0;
  int64_t dim = 0;
  int64_t image_height = 0, image_width = 0;
};

struct DatasetLoaderInfo {
  std::string kind;
  std::string description;
  std::vector<ParamSpec> params;
  std::function<Dataset(const Params&)> load;
  // Cheap identity of the source (paths, sizes, mtimes) + options, computed without decoding.
  std::function<std::string(const Params&)> fingerprint;
  // False for loaders that give features only (no images): `dqbench run` refuses, before running,
  // a method that needs images (SelectionMethod::needs_images) on such a dataset.
  bool provides_images = true;
  // Optional: the sizes before loading (DatasetSizes), which `dqbench run --dry-run` estimates each
  // cell's peak memory from. Null or nullopt: known only once loaded.
  std::function<std::optional<DatasetSizes>(const Params&)> sizes{};
};

// The registry of dataset loaders (core/registry.h).
using DatasetRegistry = Registry<DatasetLoaderInfo>;
template <>
DatasetRegistry& DatasetRegistry::instance();
extern template class Registry<DatasetLoaderInfo>;

}  // namespace dq

// In a loader's .cpp: DQ_REGISTER_DATASET(make_fashion_mnist_info); where the function returns a
// DatasetLoaderInfo.
#define DQ_REGISTER_DATASET(make_fn) \
  static const ::dq::detail::Registrar<::dq::DatasetLoaderInfo> dq_dataset_registrar_##make_fn(&make_fn)
