#include "methods/dqas_proxy.h"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace dq {
namespace {

class NearestClassMean final : public DqasProxy {
 public:
  void fit(std::span<const float* const> rows, std::span<const int32_t> classes, int64_t d, int64_t num_classes,
           MemoryBudget&) override {
    d_ = d;
    means_.assign(static_cast<size_t>(num_classes * d), 0.0);
    counts_.assign(static_cast<size_t>(num_classes), 0);
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto c = static_cast<size_t>(classes[i]);
      ++counts_[c];
      for (int64_t k = 0; k < d; ++k) means_[c * static_cast<size_t>(d) + static_cast<size_t>(k)] += rows[i][k];
    }
    for (size_t c = 0; c < counts_.size(); ++c)
      for (int64_t k = 0; k < d; ++k)
        if (counts_[c] > 0) means_[c * static_cast<size_t>(d) + static_cast<size_t>(k)] /= static_cast<double>(counts_[c]);
  }

  int32_t predict(const float* row) const override {
    int32_t best = -1;
    double best_dist = std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < counts_.size(); ++c) {
      if (counts_[c] == 0) continue;
      const double* m = means_.data() + c * static_cast<size_t>(d_);
      double dist = 0;
      for (int64_t k = 0; k < d_; ++k) dist += (row[k] - m[k]) * (row[k] - m[k]);
      if (dist < best_dist) best_dist = dist, best = static_cast<int32_t>(c);
    }
    return best;
  }

 private:
  int64_t d_ = 0;
  std::vector<double> means_;
  std::vector<int64_t> counts_;
};

class LogisticRegression final : public DqasProxy {
 public:
  static constexpr int kIterations = 100;
  static constexpr double kL2 = 1e-3;

  void fit(std::span<const float* const> rows, std::span<const int32_t> classes, int64_t d, int64_t num_classes,
           MemoryBudget& memory) override {
    d_ = d;
    c_ = num_classes;
    const auto n = static_cast<int64_t>(rows.size());
    fitted_ = n > 0;
    if (!fitted_) return;
    auto reservation = memory.reserve(static_cast<uint64_t>(n * d) * sizeof(float), "DQAS logreg training matrix");
    // Standardise with the training set's statistics.
    mean_.assign(static_cast<size_t>(d), 0.0f);
    scale_.assign(static_cast<size_t>(d), 1.0f);
    for (int64_t k = 0; k < d; ++k) {
      double s = 0, s2 = 0;
      for (const float* r : rows) s += r[k], s2 += static_cast<double>(r[k]) * r[k];
      const double mu = s / static_cast<double>(n), var = std::max(0.0, s2 / static_cast<double>(n) - mu * mu);
      mean_[static_cast<size_t>(k)] = static_cast<float>(mu);
      scale_[static_cast<size_t>(k)] = static_cast<float>(var > 1e-12 ? 1.0 / std::sqrt(var) : 1.0);
    }
    std::vector<float> x(static_cast<size_t>(n * d));
    for (int64_t i = 0; i < n; ++i) standardise(rows[static_cast<size_t>(i)], &x[static_cast<size_t>(i * d)]);

    const double step = 1.0 / (0.5 * largest_eigenvalue(x, n) + kL2);
    w_.assign(static_cast<size_t>(c_ * d), 0.0f);
    b_.assign(static_cast<size_t>(c_), 0.0f);
    std::vector<float> logits(static_cast<size_t>(n * c_)), grad_w(static_cast<size_t>(c_ * d));
    std::vector<double> grad_b(static_cast<size_t>(c_));
    for (int it = 0; it < kIterations; ++it) {
      scores(x.data(), n, logits.data());
      std::fill(grad_b.begin(), grad_b.end(), 0.0);
      for (int64_t i = 0; i < n; ++i) {  // logits -> (softmax - one_hot) / n
        float* l = &logits[static_cast<size_t>(i * c_)];
        const float top = *std::max_element(l, l + c_);
        double z = 0;
        for (int64_t c = 0; c < c_; ++c) z += std::exp(static_cast<double>(l[c] - top));
        for (int64_t c = 0; c < c_; ++c) {
          double p = std::exp(static_cast<double>(l[c] - top)) / z;
          if (c == classes[static_cast<size_t>(i)]) p -= 1.0;
          l[c] = static_cast<float>(p / static_cast<double>(n));
          grad_b[static_cast<size_t>(c)] += l[c];
        }
      }
      // grad_w = residual^T x (C x d)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<blasint>(c_), static_cast<blasint>(d),
                  static_cast<blasint>(n), 1.0f, logits.data(), static_cast<blasint>(c_), x.data(),
                  static_cast<blasint>(d), 0.0f, grad_w.data(), static_cast<blasint>(d));
      for (size_t j = 0; j < w_.size(); ++j) w_[j] -= static_cast<float>(step * (grad_w[j] + kL2 * w_[j]));
      for (int64_t c = 0; c < c_; ++c) b_[static_cast<size_t>(c)] -= static_cast<float>(step * grad_b[static_cast<size_t>(c)]);
    }
  }

  int32_t predict(const float* row) const override {
    if (!fitted_) return -1;
    std::vector<float> x(static_cast<size_t>(d_)), l(static_cast<size_t>(c_));
    standardise(row, x.data());
    scores(x.data(), 1, l.data());
    return static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
  }

 private:
  void standardise(const float* row, float* out) const {
    for (int64_t k = 0; k < d_; ++k)
      out[k] = (row[k] - mean_[static_cast<size_t>(k)]) * scale_[static_cast<size_t>(k)];
  }

  // out (n x C) = x w^T + b
  void scores(const float* x, int64_t n, float* out) const {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(n), static_cast<blasint>(c_),
                static_cast<blasint>(d_), 1.0f, x, static_cast<blasint>(d_), w_.data(), static_cast<blasint>(d_), 0.0f,
                out, static_cast<blasint>(c_));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < c_; ++c) out[i * c_ + c] += b_[static_cast<size_t>(c)];
  }

  // Largest eigenvalue of x^T x / n (+1 for the bias column), by 30 power iterations from a
  // fixed start: the curvature bound that makes step 1/L safe for the softmax loss.
  double largest_eigenvalue(const std::vector<float>& x, int64_t n) const {
    std::vector<double> v(static_cast<size_t>(d_), 1.0 / std::sqrt(static_cast<double>(d_))), xv(static_cast<size_t>(n));
    double lambda = 0;
    for (int it = 0; it < 30; ++it) {
      for (int64_t i = 0; i < n; ++i) {
        double s = 0;
        for (int64_t k = 0; k < d_; ++k) s += x[static_cast<size_t>(i * d_ + k)] * v[static_cast<size_t>(k)];
        xv[static_cast<size_t>(i)] = s;
      }
      std::vector<double> next(static_cast<size_t>(d_), 0.0);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < d_; ++k) next[static_cast<size_t>(k)] += x[static_cast<size_t>(i * d_ + k)] * xv[static_cast<size_t>(i)];
      double norm = 0;
      for (double& e : next) e /= static_cast<double>(n), norm += e * e;
      norm = std::sqrt(norm);
      lambda = norm;
      if (norm == 0) break;
      for (size_t k = 0; k < next.size(); ++k) v[k] = next[k] / norm;
    }
    return lambda + 1.0;
  }

  int64_t d_ = 0, c_ = 0;
  bool fitted_ = false;
  std::vector<float> mean_, scale_, w_, b_;
};

}  // namespace

std::vector<std::string> dqas_proxy_names() { return {"ncm", "logreg"}; }

std::unique_ptr<DqasProxy> make_dqas_proxy(const std::string& name) {
  if (name == "ncm") return std::make_unique<NearestClassMean>();
  if (name == "logreg") return std::make_unique<LogisticRegression>();
  throw Error(fmt::format("unknown DQAS proxy '{}' (expected ncm|logreg)", name));
}

std::vector<double> per_class_error(const DqasProxy& proxy, const std::vector<std::vector<const float*>>& validation) {
  std::vector<double> error(validation.size(), 0.0);
  for (size_t c = 0; c < validation.size(); ++c) {
    if (validation[c].empty()) continue;
    int64_t wrong = 0;
    for (const float* row : validation[c]) wrong += proxy.predict(row) != static_cast<int32_t>(c);
    error[c] = static_cast<double>(wrong) / static_cast<double>(validation[c].size());
  }
  return error;
}

}  // namespace dq
