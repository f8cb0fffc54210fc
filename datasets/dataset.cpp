#include "datasets/dataset.h"

#include <fmt/format.h>

#include "core/embedding_check.h"
#include "core/error.h"
#include "core/hashing.h"

namespace dq {

std::string dataset_content_sha256(const Dataset& d) {
  Sha256 digest;
  digest.update("dq-dataset-content/1\n");
  for (const auto& name : d.class_names) digest.update(fmt::format("class {} {}\n", name.size(), name));
  for (const ImageSet* s : {&d.train, &d.test}) {
    digest.update(fmt::format("split {} {} {} {} pixels {} labels {}\n", s->n, s->channels, s->height, s->width,
                              s->pixels.size(), s->labels.size()));
    digest.update(s->pixels.data(), s->pixels.size());
    digest.update(s->labels.data(), s->labels.size() * sizeof(int64_t));
  }
  digest.update(fmt::format("features {} {}\n", d.feature_dim, d.train_features.size()));
  digest.update(d.train_features.data(), d.train_features.size() * sizeof(float));
  return digest.hex();
}

std::string dataset_identity(const Dataset& d) {
  return d.content_sha256.empty() ? dataset_content_sha256(d) : d.content_sha256;
}

void validate_dataset(const Dataset& d, const std::string& source) {
  if (d.class_names.empty()) throw Error(fmt::format("{}: dataset has no classes", source));
  auto check = [&](const ImageSet& s, const char* split, bool need_pixels) {
    if (static_cast<int64_t>(s.labels.size()) != s.n)
      throw Error(fmt::format("{}: {} split has {} labels for {} samples", source, split, s.labels.size(), s.n));
    if (need_pixels && static_cast<int64_t>(s.pixels.size()) != s.n * s.image_bytes())
      throw Error(fmt::format("{}: {} split has {} pixel bytes, expected {}", source, split, s.pixels.size(),
                              s.n * s.image_bytes()));
    for (int64_t i = 0; i < s.n; ++i)
      if (s.labels[static_cast<size_t>(i)] < 0 || s.labels[static_cast<size_t>(i)] >= d.num_classes())
        throw Error(fmt::format("{}: {} sample {} has label {}, outside [0, {})", source, split, i,
                                s.labels[static_cast<size_t>(i)], d.num_classes()));
  };
  if (d.train.n == 0) throw Error(fmt::format("{}: the train split holds no sample", source));
  const bool features = d.feature_dim > 0;
  check(d.train, "train", !features);
  check(d.test, "test", !features && d.test.n > 0);
  if (features && static_cast<int64_t>(d.train_features.size()) != d.train.n * d.feature_dim)
    throw Error(fmt::format("{}: {} feature values, expected {} x {}", source, d.train_features.size(), d.train.n,
                            d.feature_dim));
  if (features)  // a dataset's own features are embeddings entering the program: the one check
    check_embeddings(d.train_features.data(), d.train.n, d.feature_dim,
                     {source + " features", d.train.labels, &d.class_names});
}

template class Registry<DatasetLoaderInfo>;

template <>
DatasetRegistry& DatasetRegistry::instance() {
  static DatasetRegistry registry("dataset kind", &DatasetLoaderInfo::kind);
  return registry;
}

}  // namespace dq
