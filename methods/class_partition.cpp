#include "methods/class_partition.h"

#include <algorithm>

#include "core/error.h"

namespace dq {

ClassPartition partition_by_class(const float* z, int64_t d, const std::vector<int64_t>& labels, int64_t num_classes) {
  ClassPartition p;
  p.ids.resize(static_cast<size_t>(num_classes));
  p.z.resize(static_cast<size_t>(num_classes));
  for (size_t i = 0; i < labels.size(); ++i) {
    DQ_ASSERT(labels[i] >= 0 && labels[i] < num_classes, "label out of range in partition_by_class");
    p.ids[static_cast<size_t>(labels[i])].push_back(static_cast<int64_t>(i));
  }
  for (int64_t c = 0; c < num_classes; ++c) {
    const auto& ids = p.ids[static_cast<size_t>(c)];
    if (ids.empty()) continue;
    auto& block = p.z[static_cast<size_t>(c)];
    if (d > 0) {
      block.resize(ids.size() * static_cast<size_t>(d));
      for (size_t k = 0; k < ids.size(); ++k) std::copy_n(z + ids[k] * d, d, block.data() + k * static_cast<size_t>(d));
    }
    p.views.push_back({c, ids, d > 0 ? block.data() : nullptr, d});
  }
  return p;
}

}  // namespace dq
