#pragma once
// Pieces shared by the bin-based methods (DQ, ADQ, DQAS-approx): their common parameters, budget
// apportioning and uniform sampling inside bins.
#include <cstdint>
#include <span>
#include <vector>

#include "core/param_table.h"
#include "core/rng.h"
#include "methods/graphcut/graphcut.h"
#include "methods/method.h"

namespace dq {

// The parameters every bin-based method shares (bins, theta, kernel, mode); their defaults are the
// members' below.
struct DqFamilyConfig {
  BinParams bins;
  double theta = 0.25;  // fixed patch-drop ratio: each pick keeps 1 - theta of its image
  // round(ratio * M / (1 - theta)), clamped to [0, M].
  int64_t class_budget(double ratio, int64_t class_size) const { return budget_count(ratio, class_size, theta); }
};

// The shared parameters as rows of a method's ParamTable (core/param_table.h), bound to its
// DqFamilyConfig member `config`.
template <class Options>
std::vector<ParamField<Options>> dq_family_fields(DqFamilyConfig Options::*config) {
  using C = DqFamilyConfig;
  return {
      field({.name = "bins", .help = "number of GraphCut bins per class (the last one is the remainder)", .min = 1,
             .max = 100000},
            config, &C::bins, &BinParams::bins),
      field({.name = "theta",
             .help = "fixed patch-drop ratio: samples per class = round(ratio * M / (1 - theta)), each keeping 1 - theta",
             .min = 0,
             .max = 0.95},
            config, &C::theta),
      field({.name = "kernel",
             .help = "GraphCut similarity: neg_sqeuclid (-||x-y||^2, the paper) or cosine_affine (0.5 + 0.5 cos, the "
                     "released code)"},
            named_values({GraphCutKernel::NegSqEuclid, GraphCutKernel::CosineAffine}, kernel_name), config, &C::bins,
            &BinParams::kernel),
      field({.name = "mode",
             .help = "greedy: naive (dense, O(M^3), as measured in the papers), memo (dense, O(M^2)), streaming (no M x "
                     "M buffer); identical picks"},
            named_values({GreedyMode::Naive, GreedyMode::Memo, GreedyMode::Streaming}, mode_name), config, &C::bins,
            &BinParams::mode),
  };
}

// The peak every bin-based method declares (MethodInfo::peak_bytes): GraphCut's on the largest class,
// dense 4*M^2 + 4*M*d (the M x M similarity and the class's rows), streaming O(M).
PeakBytes dq_family_peak_bytes(const DqFamilyConfig& config, const SelectionSizes& sizes);

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
