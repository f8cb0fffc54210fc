// Extractor kind `none`: the dataset's own features are the embeddings (no network, no LibTorch).
#include <fmt/format.h>

#include "core/error.h"
#include "core/hashing.h"
#include "core/npy.h"
#include "datasets/dataset.h"
#include "models/models.h"

namespace dq {

Embeddings carried_features(const Dataset& dataset) {
  if (dataset.feature_dim <= 0)
    throw Error(fmt::format("extractor kind 'none' needs a dataset that carries features, but '{}' has images "
                            "only (use kind: proxy or torchscript)",
                            dataset.kind));
  Embeddings out;
  out.n = dataset.train.n;
  out.d = dataset.feature_dim;
  out.z = dataset.train_features;
  out.key = sha256_hex("embeddings|dataset:" + dataset_identity(dataset) + "|extractor:none");
  out.sha256 = npy_sha256(out.z.data(), {out.n, out.d});
  return out;
}

}  // namespace dq
