#pragma once
// Pieces shared by the bin-based methods (DQ, ADQ, DQAS-approx): their common parameters, budget
// apportioning and uniform sampling inside bins.
#include <cstdint>
#include <span>
#include <vector>

#include "core/rng.h"
#include "methods/graphcut/graphcut.h"
#include "methods/method.h"

namespace dq {

// bins (10), theta (0.25), kernel (neg_sqeuclid), mode (naive).
std::vector<ParamSpec> dq_family_param_specs();

struct DqFamilyConfig {
  BinParams bins;
  double theta = 0.25;  // fixed patch-drop ratio: each pick keeps 1 - theta of its image
  static DqFamilyConfig from(const Params& params);
  // round(ratio * M / (1 - theta)), clamped to [0, M].
  int64_t class_budget(double ratio, int64_t class_size) const { return budget_count(ratio, class_size, theta); }
};

// Splits `total` into integers proportional to `weights`, none above its cap: shares that exceed
// their cap are fixed at the cap and the overflow goes to the others in proportion to their
// weights (repeated until nothing exceeds), then largest remainders (ties to the lower index) make
// the sum exact. Items with zero total weight share by remaining capacity. Requires total <= sum(caps).
std::vector<int64_t> apportion(int64_t total, std::span<const double> weights, std::span<const int64_t> caps);

// The first `count` items of a uniform random permutation (partial Fisher-Yates), in draw order.
std::vector<int64_t> uniform_sample(std::span<const int64_t> items, int64_t count, Rng& rng);

// Draws counts[b] positions uniformly from bin b (bin b uses Rng(derive_seed(seed, b)), so one
// bin's count does not change another's draw) and returns them as a selection: bins in order,
// keep = 1 - theta per pick, `bins` filled with dataset ids.
ClassSelection select_from_bins(const ClassView& cls, const ClassBins& bins, std::span<const int64_t> counts,
                                double theta, uint64_t seed);

// Bins as dataset ids (ClassSelection::bins).
std::vector<std::vector<int64_t>> bins_as_ids(const ClassView& cls, const ClassBins& bins);

}  // namespace dq
