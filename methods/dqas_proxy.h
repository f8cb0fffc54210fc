#pragma once
// DQAS-approx's proxy: a cheap classifier on frozen embeddings that stands in for the proxy
// networks DQAS trains in its active-learning loop. Pluggable by name.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/memory_budget.h"

namespace dq {

class DqasProxy {
 public:
  virtual ~DqasProxy() = default;
  // Training rows (each d floats) with their class index in [0, num_classes). A class may have
  // no rows; the proxy then never predicts it.
  virtual void fit(std::span<const float* const> rows, std::span<const int32_t> classes, int64_t d,
                   int64_t num_classes, MemoryBudget& memory) = 0;
  // Predicted class index, or -1 when nothing was fitted.
  virtual int32_t predict(const float* row) const = 0;
};

// "ncm": nearest class mean (squared Euclidean, ties to the lower class index).
// "logreg": multinomial logistic regression on standardised features, full-batch gradient descent
//           with step 1/L (L from a power iteration), fixed iterations, L2 1e-3; deterministic.
std::unique_ptr<DqasProxy> make_dqas_proxy(const std::string& name);
std::vector<std::string> dqas_proxy_names();

// Fraction of each class's validation rows the proxy gets wrong (0 for a class without any).
std::vector<double> per_class_error(const DqasProxy& proxy, const std::vector<std::vector<const float*>>& validation);

}  // namespace dq
