#include "methods/dq_common.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace dq {

std::vector<int64_t> apportion(int64_t total, std::span<const double> weights, std::span<const int64_t> caps) {
  const size_t n = weights.size();
  DQ_ASSERT(caps.size() == n, "apportion: one cap per weight");
  DQ_ASSERT(total >= 0 && total <= std::accumulate(caps.begin(), caps.end(), int64_t{0}),
            "apportion: total exceeds the caps");
  std::vector<int64_t> out(n, 0);
  std::vector<double> share(n, 0.0);
  std::vector<char> fixed(n, 0);
  for (size_t i = 0; i < n; ++i) {
    DQ_ASSERT(weights[i] >= 0 && std::isfinite(weights[i]), "apportion: weights must be finite and >= 0");
    if (caps[i] <= 0) fixed[i] = 1;
  }
  int64_t left = total;
  for (bool changed = true; changed;) {
    changed = false;
    double weight_sum = 0;
    int64_t capacity = 0;
    for (size_t i = 0; i < n; ++i)
      if (!fixed[i]) weight_sum += weights[i], capacity += caps[i];
    for (size_t i = 0; i < n; ++i) {
      if (fixed[i]) continue;
      share[i] = weight_sum > 0 ? left * (weights[i] / weight_sum)
                                : left * (static_cast<double>(caps[i]) / static_cast<double>(capacity));
    }
    for (size_t i = 0; i < n; ++i)
      if (!fixed[i] && share[i] >= static_cast<double>(caps[i])) {
        fixed[i] = 1, out[i] = caps[i], left -= caps[i], changed = true;
      }
  }
  std::vector<size_t> order;
  int64_t given = 0;
  for (size_t i = 0; i < n; ++i) {
    if (fixed[i]) continue;
    out[i] = std::min<int64_t>(caps[i], static_cast<int64_t>(std::floor(share[i])));
    given += out[i];
    order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return share[a] - std::floor(share[a]) > share[b] - std::floor(share[b]);
  });
  for (int64_t extra = left - given; extra > 0;) {
    bool progressed = false;
    for (size_t i : order) {
      if (extra == 0) break;
      if (out[i] < caps[i]) ++out[i], --extra, progressed = true;
    }
    DQ_ASSERT(progressed, "apportion: no capacity left for the remainder");
  }
  return out;
}

std::vector<int64_t> uniform_sample(std::span<const int64_t> items, int64_t count, Rng& rng) {
  DQ_ASSERT(count >= 0 && count <= static_cast<int64_t>(items.size()), "uniform_sample: count out of range");
  std::vector<int64_t> pool(items.begin(), items.end());
  const auto m = static_cast<uint64_t>(pool.size());
  for (int64_t i = 0; i < count; ++i) {
    const auto j = static_cast<size_t>(static_cast<uint64_t>(i) + rng.uniform_below(m - static_cast<uint64_t>(i)));
    std::swap(pool[static_cast<size_t>(i)], pool[j]);
  }
  pool.resize(static_cast<size_t>(count));
  return pool;
}

std::vector<std::vector<int64_t>> bins_as_ids(const ClassView& cls, const ClassBins& bins) {
  std::vector<std::vector<int64_t>> out(bins.size());
  for (size_t b = 0; b < bins.size(); ++b)
    for (int64_t p : bins[b]) out[b].push_back(cls.ids[static_cast<size_t>(p)]);
  return out;
}

PeakBytes dq_family_peak_bytes(const DqFamilyConfig& config, const SelectionSizes& sizes) {
  const int64_t m = sizes.largest_class, d = sizes.dim;
  if (config.bins.mode == GreedyMode::Streaming) return {.bytes = m * (2 * 16 + 8), .model = "streaming GraphCut O(M)"};
  return {.bytes = 4 * m * m + 4 * m * d, .model = "dense GraphCut 4*M^2 + 4*M*d"};
}

ClassSelection select_from_bins(const ClassView& cls, const ClassBins& bins, std::span<const int64_t> counts,
                                double theta, uint64_t seed) {
  DQ_ASSERT(counts.size() == bins.size(), "select_from_bins: one count per bin");
  ClassSelection out;
  for (size_t b = 0; b < bins.size(); ++b) {
    Rng rng(derive_seed(seed, static_cast<uint64_t>(b)));
    for (int64_t p : uniform_sample(bins[b], counts[b], rng)) out.ids.push_back(cls.ids[static_cast<size_t>(p)]);
  }
  out.keep.assign(out.ids.size(), static_cast<float>(1.0 - theta));
  out.bins = bins_as_ids(cls, bins);
  out.diagnostics["theta"] = theta;
  out.diagnostics["bins"] = static_cast<double>(bins.size());
  return out;
}

}  // namespace dq
