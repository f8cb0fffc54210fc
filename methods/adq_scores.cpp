#include "methods/adq_scores.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/rng.h"

namespace dq {

namespace {
int64_t reflect101(int64_t i, int64_t n) {
  if (n == 1) return 0;
  if (i < 0) return -i;
  if (i >= n) return 2 * n - 2 - i;
  return i;
}
}  // namespace

double texture_level(const uint8_t* image, int64_t channels, int64_t height, int64_t width) {
  DQ_ASSERT(channels >= 1 && height >= 1 && width >= 1, "texture_level: empty image");
  const int64_t plane = height * width;
  std::vector<double> grey(static_cast<size_t>(plane), 0.0);
  for (int64_t p = 0; p < plane; ++p) {
    double v = 0;
    if (channels == 3) {
      v = 0.299 * image[p] + 0.587 * image[plane + p] + 0.114 * image[2 * plane + p];
    } else {
      for (int64_t c = 0; c < channels; ++c) v += image[c * plane + p];
      v /= static_cast<double>(channels);
    }
    grey[static_cast<size_t>(p)] = v / 255.0;
  }
  auto at = [&](int64_t r, int64_t c) {
    return grey[static_cast<size_t>(reflect101(r, height) * width + reflect101(c, width))];
  };
  double total = 0;
  for (int64_t r = 0; r < height; ++r)
    for (int64_t c = 0; c < width; ++c) {
      const double gx = (at(r - 1, c + 1) + 2 * at(r, c + 1) + at(r + 1, c + 1)) -
                        (at(r - 1, c - 1) + 2 * at(r, c - 1) + at(r + 1, c - 1));
      const double gy = (at(r + 1, c - 1) + 2 * at(r + 1, c) + at(r + 1, c + 1)) -
                        (at(r - 1, c - 1) + 2 * at(r - 1, c) + at(r - 1, c + 1));
      total += 0.5 * std::abs(gx) + 0.5 * std::abs(gy);
    }
  return total / static_cast<double>(plane);
}

ProjectionHead::ProjectionHead(int64_t in_dim, uint64_t seed) : in_dim_(in_dim) {
  DQ_ASSERT(in_dim > 0, "projection head needs a positive input dimension");
  Rng rng(derive_seed(seed, "adq_projection_head"));
  auto fill = [&](std::vector<float>& v, int64_t count, int64_t fan_in) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    v.resize(static_cast<size_t>(count));
    for (auto& x : v) x = static_cast<float>((2.0 * rng.uniform01() - 1.0) * bound);
  };
  fill(w1_, kHidden * in_dim, in_dim);
  fill(b1_, kHidden, in_dim);
  fill(w2_, kOut * kHidden, kHidden);
  fill(b2_, kOut, kHidden);
}

void ProjectionHead::project(const float* rows, int64_t n, float* out) const {
  if (n == 0) return;
  std::vector<float> hidden(static_cast<size_t>(n * kHidden));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(n), kHidden, static_cast<blasint>(in_dim_),
              1.0f, rows, static_cast<blasint>(in_dim_), w1_.data(), static_cast<blasint>(in_dim_), 0.0f, hidden.data(),
              kHidden);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t h = 0; h < kHidden; ++h) {
      float& v = hidden[static_cast<size_t>(i * kHidden + h)];
      v = std::max(0.0f, v + b1_[static_cast<size_t>(h)]);
    }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(n), kOut, kHidden, 1.0f, hidden.data(),
              kHidden, w2_.data(), kHidden, 0.0f, out, kOut);
  for (int64_t i = 0; i < n; ++i) {
    float* o = out + i * kOut;
    double n2 = 0;
    for (int64_t k = 0; k < kOut; ++k) {
      o[k] += b2_[static_cast<size_t>(k)];
      n2 += static_cast<double>(o[k]) * o[k];
    }
    const double inv = n2 > 0 ? 1.0 / std::sqrt(n2) : 0.0;
    for (int64_t k = 0; k < kOut; ++k) o[k] = static_cast<float>(o[k] * inv);
  }
}

double diversity_from_sum(std::span<const double> sum_of_units, int64_t n) {
  if (n == 0) return 0.0;
  double s2 = 0;
  for (double v : sum_of_units) s2 += v * v;
  const double mean_cosine = s2 / (static_cast<double>(n) * static_cast<double>(n));
  // Anti-aligned vectors could drive the mean to ~0; cap the score rather than divide by zero.
  return 1.0 / std::max(mean_cosine, 1e-12);
}

namespace {
std::vector<double> sum_normalised(std::span<const double> v, std::span<const int64_t> sizes) {
  std::vector<double> out(v.size(), 0.0);
  double total = 0;
  int64_t nonempty = 0;
  for (size_t i = 0; i < v.size(); ++i)
    if (sizes[i] > 0) total += v[i], ++nonempty;
  for (size_t i = 0; i < v.size(); ++i) {
    if (sizes[i] == 0) continue;
    out[i] = total > 0 ? v[i] / total : 1.0 / static_cast<double>(nonempty);
  }
  return out;
}
}  // namespace

std::vector<double> adq_bin_shares(std::span<const double> rep, std::span<const double> div,
                                   std::span<const int64_t> bin_sizes, double alpha) {
  DQ_ASSERT(rep.size() == bin_sizes.size() && div.size() == bin_sizes.size(), "adq_bin_shares: one score per bin");
  const std::vector<double> rep_hat = sum_normalised(rep, bin_sizes), div_hat = sum_normalised(div, bin_sizes);
  int64_t total_size = 0;
  for (int64_t s : bin_sizes) total_size += s;
  std::vector<double> r(bin_sizes.size(), 0.0);
  if (total_size == 0) return r;
  for (size_t n = 0; n < r.size(); ++n) {
    const double importance = 0.5 * (rep_hat[n] + div_hat[n]);
    r[n] = alpha * importance + (1.0 - alpha) * static_cast<double>(bin_sizes[n]) / static_cast<double>(total_size);
  }
  return r;
}

}  // namespace dq
