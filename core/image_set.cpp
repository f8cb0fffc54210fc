#include "core/image_set.h"

#include <algorithm>

#include "core/error.h"

namespace dq {

ImageSet ImageSet::subset(const std::vector<int64_t>& ids) const {
  ImageSet out;
  out.n = static_cast<int64_t>(ids.size());
  out.channels = channels;
  out.height = height;
  out.width = width;
  const int64_t bytes = image_bytes();
  out.pixels.resize(static_cast<size_t>(out.n * bytes));
  out.labels.resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    DQ_ASSERT(ids[i] >= 0 && ids[i] < n, "subset id out of range");
    std::copy_n(image(ids[i]), bytes, out.pixels.data() + static_cast<int64_t>(i) * bytes);
    out.labels[i] = labels[static_cast<size_t>(ids[i])];
  }
  return out;
}

}  // namespace dq
