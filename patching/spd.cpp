#include "patching/spd.h"

#include <algorithm>

#include "core/error.h"
#include "patching/patches.h"

namespace dq {

double spd_pick_theta(std::span<const double> thetas, std::span<const double> offsets, double threshold) {
  DQ_ASSERT(thetas.size() == offsets.size(), "one offset per candidate theta");
  double best = 0;
  for (size_t t = 0; t < thetas.size(); ++t)
    if (offsets[t] < threshold) best = std::max(best, thetas[t]);
  return best;
}

SpdResult semantic_offset_dropping(std::span<const int64_t> candidates, double threshold, double budget,
                                   int64_t patches, std::span<const double> thetas, int64_t batch,
                                   const SpdOffsetFn& offsets) {
  DQ_ASSERT(batch > 0 && patches > 0, "SPD needs a positive batch and patch count");
  SpdResult out;
  const auto n = static_cast<int64_t>(candidates.size());
  const size_t nt = thetas.size();
  bool done = budget <= 0;
  for (int64_t start = 0; start < n && !done; start += batch) {
    const int64_t count = std::min(batch, n - start);
    const auto ids = candidates.subspan(static_cast<size_t>(start), static_cast<size_t>(count));
    const std::vector<double> off = offsets(ids);
    DQ_ASSERT(off.size() == static_cast<size_t>(count) * nt, "SPD offsets callback returned the wrong size");
    out.evaluated += count;
    for (int64_t i = 0; i < count && !done; ++i) {
      const double theta = spd_pick_theta(thetas, std::span(off).subspan(static_cast<size_t>(i) * nt, nt), threshold);
      const int64_t kept = kept_patch_count(patches, theta);
      const double w = static_cast<double>(kept) / static_cast<double>(patches);
      done = out.stored + w >= budget;
      // The sample that reaches the budget stays unless it overshoots by more than half of itself.
      if (done && out.stored + w - budget > w / 2) break;
      out.ids.push_back(ids[static_cast<size_t>(i)]);
      out.theta.push_back(theta);
      out.kept.push_back(kept);
      out.keep.push_back(static_cast<float>(w));
      out.stored += w;
    }
  }
  return out;
}

}  // namespace dq
