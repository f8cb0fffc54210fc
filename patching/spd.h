#pragma once
// Semantic-offset patch dropping (BGFDQ, methods-spec 5.4-5.5), free of LibTorch: the networks enter
// through a callback, so the decision rule and the budget accounting are unit-tested on constructed
// offsets. For each candidate, in NCS's priority order, every theta in {0.1, ..., 0.9} is tried: drop
// that share of the lowest-ranked patches, reconstruct, embed with the extractor f, and measure the
// semantic offset ||f(x) - f(x_theta)||^2. theta* is the largest theta whose offset stays below the
// class threshold (lambda_scale * lambda_C); all nine are evaluated because the offset need not grow
// with theta. No admissible theta stores the whole image (theta* = 0).
#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace dq {

// The paper's candidate drop ratios.
inline constexpr std::array<double, 9> kSpdThetas = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};

// Largest thetas[t] with offsets[t] < threshold; 0 when none qualifies.
double spd_pick_theta(std::span<const double> thetas, std::span<const double> offsets, double threshold);

// Offsets of a batch of candidates (dataset ids): ids.size() x thetas.size(), row-major.
using SpdOffsetFn = std::function<std::vector<double>(std::span<const int64_t> ids)>;

struct SpdResult {
  std::vector<int64_t> ids;   // stored samples: a prefix of the candidates, in their order
  std::vector<double> theta;  // theta* of each stored sample
  // Kept patches of each stored sample, kept_patch_count(P, theta*): the mask the patch stage applies
  // (carried as an integer: k / P as a float and back loses a patch for some theta on 7 x 7 and 14 x 14
  // grids).
  std::vector<int64_t> kept;
  std::vector<float> keep;    // kept fraction kept / P of each stored sample (for the record)
  double stored = 0;          // sum of keep (in images)
  int64_t evaluated = 0;      // candidates whose offsets were computed (the last batch may run past the budget)
};

// Walks `candidates` in batches of `batch`, picks theta* for each and accumulates the kept fractions
// until they reach `budget` (rho * M_c images). The sample that reaches the budget stays unless it
// overshoots by more than half its own weight, so |stored - budget| <= 1/2 image unless the candidates
// run out first (then every candidate is stored).
SpdResult semantic_offset_dropping(std::span<const int64_t> candidates, double threshold, double budget,
                                   int64_t patches, std::span<const double> thetas, int64_t batch,
                                   const SpdOffsetFn& offsets);

}  // namespace dq
