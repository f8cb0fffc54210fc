#pragma once
// Rows made ready for the GEMM distance tiles, and the proven float error bound that lets a tile
// nominate candidates (internal to methods/knn/).
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/memory_budget.h"
#include "methods/knn/search.h"

namespace dq::detail {

// Relative error bound delta of a float32 GEMM squared distance: |a_ij - d_ij| <= delta (n_i + n_j).
double gemm_error_factor(int64_t d);

// Rows ready for the GEMM search: centred on a common mean (distances unchanged; smaller norms, so a
// smaller GEMM error), with n_i = |c_i|^2 and the error slack s_i = delta * n_i.
struct PreparedRows {
  MemoryBudget::Reservation reservation;
  int64_t rows = 0, cols = 0;
  std::unique_ptr<float[]> centred;     // rows x cols
  std::unique_ptr<float[]> norm_plus;   // n_i + s_i, rounded up
  std::unique_ptr<float[]> norm_minus;  // n_i - s_i, rounded down
  std::unique_ptr<float[]> slack;       // s_i, rounded up
};
PreparedRows prepare_rows(RowMatrix z, const float* mean, MemoryBudget& memory, const char* what);
// The listed rows of `from`, in that order.
PreparedRows gather_rows(const PreparedRows& from, std::span<const int64_t> rows, MemoryBudget& memory, const char* what);
std::vector<float> column_mean(RowMatrix z);

// tile (nq x nb, row-major) = -2 * Q * B^T for row-major Q (nq x d) and B (nb x d): one SGEMM.
void minus_two_inner_products(const float* q, int64_t nq, const float* b, int64_t nb, int64_t d, float* tile);

}  // namespace dq::detail
