#pragma once
// Row utilities shared by the GraphCut modes, so that they see the same numbers.
#include <cstdint>

namespace dq::graphcut {

// Writes x / ||x|| (norm in double, result rounded to float) into `out` and returns ||x||^2;
// a zero row gives a zero unit row (its cosine with anything is taken as 0).
double unit_row(const float* x, int64_t d, float* out);

// ||x||^2 in double, summed in index order.
double squared_norm(const float* x, int64_t d);

}  // namespace dq::graphcut
