// Embeddings given as .npy files: features only (no images, no test split), like
// synthetic_embeddings, so that real embeddings of any extractor (its cached Z.npy, with the labels
// in a y.npy) run through `dqbench run` with `extractor: {kind: none}` and join the scale
// experiment's zoo (issue 24). Labels may be any integers; classes are their distinct values in
// ascending order, named by them.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "core/error.h"
#include "core/npy.h"
#include "core/param_table.h"
#include "datasets/dataset.h"
#include "datasets/source_files.h"

namespace dq {
namespace {

struct EmbeddingsNpyOptions {
  std::string path;    // N x d embeddings
  std::string labels;  // N integer labels
};

const ParamTable<EmbeddingsNpyOptions>& embeddings_npy_table() {
  static const ParamTable<EmbeddingsNpyOptions> table{{
      field({.name = "path", .help = "N x d embeddings (.npy, float32 or float64)"}, &EmbeddingsNpyOptions::path),
      field({.name = "labels", .help = "N integer labels (.npy, shape (N,) or (N, 1))"}, &EmbeddingsNpyOptions::labels),
  }};
  return table;
}

// The options, both files named: an empty path is refused by its key (it read ': file not found').
EmbeddingsNpyOptions parse_options(const Params& p) {
  const EmbeddingsNpyOptions o = embeddings_npy_table().parse(p);
  for (const auto& [key, value, what] : {std::tuple{"path", &o.path, "the N x d embeddings"},
                                         std::tuple{"labels", &o.labels, "the N integer labels"}})
    if (value->empty()) throw Error(fmt::format("embeddings_npy needs '{}': {} (.npy)", key, what));
  return o;
}

Dataset load(const Params& p) {
  const EmbeddingsNpyOptions o = parse_options(p);
  const std::string &zpath = o.path, &ypath = o.labels;
  require_file(zpath, "embeddings_npy path");
  require_file(ypath, "embeddings_npy labels");
  const NpyArray za = read_npy(zpath);
  if (za.shape.size() != 2 || za.shape[0] < 1 || za.shape[1] < 1)
    throw Error(fmt::format("{}: embeddings must be a 2-D array N x d with N, d >= 1", zpath));
  const NpyArray ya = read_npy(ypath);
  const std::vector<int64_t> y = ya.as_int64(ypath);
  const int64_t n = za.shape[0];
  if (static_cast<int64_t>(y.size()) != n || ya.shape.empty() || ya.shape[0] != n)
    throw Error(fmt::format("{}: {} labels for the {} rows of {}", ypath, y.size(), n, zpath));
  Dataset d;
  d.kind = "embeddings_npy";
  std::map<int64_t, int64_t> class_of;
  for (int64_t v : y) class_of.emplace(v, 0);
  for (auto& [label, index] : class_of) {
    index = static_cast<int64_t>(d.class_names.size());
    d.class_names.push_back(std::to_string(label));
  }
  d.train.n = n;
  d.train.labels.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) d.train.labels[static_cast<size_t>(i)] = class_of.at(y[static_cast<size_t>(i)]);
  d.feature_dim = za.shape[1];
  d.train_features = za.as_float32(zpath);
  d.fingerprint = "embeddings_npy|" + file_identity(zpath) + "|" + file_identity(ypath);
  validate_dataset(d, zpath);
  return d;
}

DatasetLoaderInfo make_embeddings_npy_info() {
  DatasetLoaderInfo info;
  info.kind = "embeddings_npy";
  info.description =
      "Embeddings from .npy files (N x d float32/float64 and N integer labels), given directly as features (no "
      "images, no test split): real embeddings of any extractor";
  info.params = embeddings_npy_table().specs();
  info.load = load;
  info.fingerprint = [](const Params& p) {
    const EmbeddingsNpyOptions o = parse_options(p);
    return "embeddings_npy|" + file_identity(o.path) + "|" + file_identity(o.labels);
  };
  info.provides_images = false;
  return info;
}

}  // namespace
DQ_REGISTER_DATASET(make_embeddings_npy_info);
}  // namespace dq
