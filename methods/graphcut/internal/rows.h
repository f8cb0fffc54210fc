#pragma once
// Row utilities shared by the GraphCut modes, so that they see the same numbers.
#include <cstdint>
#include <vector>

namespace dq::graphcut {

// rep[i] = the lowest row index whose d values equal row i's (value equality, so -0 == +0; a row
// holding NaN is its own representative). Hash buckets, O(m*d).
std::vector<int64_t> duplicate_representatives(const float* rows, int64_t m, int64_t d);

// Writes x / ||x|| (norm in double, result rounded to float) into `out` and returns ||x||^2;
// a zero row gives a zero unit row (its cosine with anything is taken as 0).
double unit_row(const float* x, int64_t d, float* out);

// ||x||^2 in double, summed in index order.
double squared_norm(const float* x, int64_t d);

}  // namespace dq::graphcut
