#pragma once
// ADQ's per-bin scores (Li et al., AAAI 2025): representativeness from texture level, diversity
// from a projection head, and the adaptive per-bin share r_n. See methods/docs/dq_family.md for
// how each deviates from the released scripts.
#include <cstdint>
#include <span>
#include <vector>

#include "core/memory_budget.h"

namespace dq {

// Texture level of one uint8 image (C x H x W): grey level in [0, 1] (ITU-R 601 luma
// 0.299 R + 0.587 G + 0.114 B for 3 channels, the channel mean otherwise), 3x3 Sobel in double
// with reflect-101 borders (OpenCV's default), mean over pixels of 0.5|G_x| + 0.5|G_y|.
double texture_level(const uint8_t* image, int64_t channels, int64_t height, int64_t width);

// ADQ's diversity head with the released code's behaviour (never trained): Linear(d, 512), ReLU,
// Linear(512, 128), L2 normalisation, weights and biases drawn uniformly in +-1/sqrt(fan_in) (the
// PyTorch default ranges) from a fixed seed.
class ProjectionHead {
 public:
  static constexpr int64_t kHidden = 512, kOut = 128;
  ProjectionHead(int64_t in_dim, uint64_t seed);
  // rows: n x in_dim; out: n x kOut unit vectors (zero if the output is zero).
  void project(const float* rows, int64_t n, float* out) const;
  int64_t in_dim() const { return in_dim_; }
  // Row-major weights (out x in) and biases, for inspection and tests.
  const std::vector<float>& w1() const { return w1_; }
  const std::vector<float>& b1() const { return b1_; }
  const std::vector<float>& w2() const { return w2_; }
  const std::vector<float>& b2() const { return b2_; }

 private:
  int64_t in_dim_;
  std::vector<float> w1_, b1_, w2_, b2_;
};

// Diversity of a set of n unit vectors: 1 / (mean of their n x n cosine-similarity matrix,
// diagonal included) = n^2 / ||sum||^2, so no n x n matrix is needed. 0 for an empty set.
double diversity_from_sum(std::span<const double> sum_of_units, int64_t n);

// r_n = alpha * I_n + (1 - alpha) * N_n / sum N, with I_n = (Rep_n / sum Rep + Div_n / sum Div) / 2.
// Empty bins (N_n = 0) score 0; a score vector summing to 0 is replaced by equal shares over the
// non-empty bins. The result sums to 1 when any bin is non-empty.
std::vector<double> adq_bin_shares(std::span<const double> rep, std::span<const double> div,
                                   std::span<const int64_t> bin_sizes, double alpha);

}  // namespace dq
