#include "methods/graphcut/internal/rows.h"

#include <cmath>

namespace dq::graphcut {

double squared_norm(const float* x, int64_t d) {
  double n2 = 0;
  for (int64_t k = 0; k < d; ++k) n2 += static_cast<double>(x[k]) * x[k];
  return n2;
}

double unit_row(const float* x, int64_t d, float* out) {
  const double n2 = squared_norm(x, d);
  const double inv = n2 > 0 ? 1.0 / std::sqrt(n2) : 0.0;
  for (int64_t k = 0; k < d; ++k) out[k] = static_cast<float>(x[k] * inv);
  return n2;
}

}  // namespace dq::graphcut
