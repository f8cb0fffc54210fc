#pragma once
// Pieces shared by the exact and approximate neighbour searches (not part of the public API).
#include <cstdint>
#include <vector>

#include "core/memory_budget.h"
#include "methods/knn.h"

namespace dq::detail {

// Relative error bound delta of a float32 GEMM squared distance: |a_ij - d_ij| <= delta (n_i + n_j).
double gemm_error_factor(int64_t d);

// Rows minus a common mean (distances do not change; the GEMM error bound shrinks with the norms),
// with slack_i = delta * |c_i|^2 rounded up.
struct CentredRows {
  MemoryBudget::Reservation reservation;
  std::vector<float> rows;
  std::vector<float> slack;
};
CentredRows centre_rows(RowMatrix z, const float* mean, MemoryBudget& memory, const char* what);
std::vector<float> column_mean(RowMatrix z);

struct Neighbour {
  double d;
  int32_t j;
};

// The k best (distance, index) pairs offered so far, ascending; ties go to the lower index.
struct TopK {
  size_t k = 0;
  std::vector<Neighbour> best;
  void reset(size_t new_k) {
    k = new_k;
    best.clear();
  }
  void offer(double d, int32_t j);
  bool full_of_zeros() const { return k > 0 && best.size() == k && best.back().d == 0; }
};

}  // namespace dq::detail
