// Centred rows, their norms and the GEMM error slack, and the GEMM tile itself: what lets a float
// distance tile nominate candidates that are then measured exactly.
//
// Each tile is a float32 block of -2 <c_i, c_j> from one GEMM over centred rows c (distances do not
// change when every row moves by the same mean; the norms, and with them the rounding error, shrink).
// With n_i = |c_i|^2 the float distance a_ij = n_i + n_j - 2 <c_i, c_j> is not exact: it can reorder
// near-ties and does not give exactly zero for duplicates. So a tile only nominates candidates:
// standard floating-point bounds (any summation order of a d-term dot product errs by at most
// gamma_d times the sum of magnitudes; likewise the centring and the norms) give
// |a_ij - d_ij| <= delta (n_i + n_j) with delta = gamma(2d + 16). Writing s_i = delta n_i, the true k
// nearest of row i all satisfy a_ij - s_j - s_i <= tau_i, where tau_i is the k-th smallest
// a_ij + s_j + s_i. Those candidates are measured with exact_sqdist and ranked by (distance, index).
// The same bounds let the pair heap for lambda_C skip every pair whose lower bound already exceeds
// the 50th smallest distance found so far.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "methods/knn/internal/prepared_rows.h"

namespace dq::detail {

double gemm_error_factor(int64_t d) {
  const double g = (2.0 * static_cast<double>(d) + 16.0) * 0x1p-24;
  return 1.05 * g / (1.0 - g);  // 5% headroom for the float comparisons made with the bound
}

PreparedRows prepare_rows(RowMatrix z, const float* mean, MemoryBudget& memory, const char* what) {
  PreparedRows out;
  out.reservation = memory.reserve(static_cast<uint64_t>(z.rows) * static_cast<uint64_t>(z.cols + 3) * sizeof(float), what);
  out.rows = z.rows;
  out.cols = z.cols;
  // Not zero-filled: every element is written below, and zeroing hundreds of MB costs a pass.
  out.centred.reset(new float[static_cast<size_t>(z.rows * z.cols)]);
  out.norm_plus.reset(new float[static_cast<size_t>(z.rows)]);
  out.norm_minus.reset(new float[static_cast<size_t>(z.rows)]);
  out.slack.reset(new float[static_cast<size_t>(z.rows)]);
  const double factor = gemm_error_factor(z.cols);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < z.rows; ++i) {
    float* c = out.centred.get() + i * z.cols;
    double norm = 0;
    for (int64_t k = 0; k < z.cols; ++k) {
      c[k] = z.row(i)[k] - mean[k];
      norm += static_cast<double>(c[k]) * c[k];
    }
    // Rounded outwards so that the float comparisons below never shrink the margin.
    const double slack = factor * norm;
    out.slack[static_cast<size_t>(i)] = std::nextafter(static_cast<float>(slack), INFINITY);
    out.norm_plus[static_cast<size_t>(i)] = std::nextafter(static_cast<float>(norm + slack), INFINITY);
    out.norm_minus[static_cast<size_t>(i)] = std::nextafter(static_cast<float>(norm - slack), -INFINITY);
  }
  return out;
}

PreparedRows gather_rows(const PreparedRows& from, std::span<const int64_t> rows, MemoryBudget& memory, const char* what) {
  PreparedRows out;
  const auto n = static_cast<int64_t>(rows.size());
  out.reservation = memory.reserve(static_cast<uint64_t>(n) * static_cast<uint64_t>(from.cols + 3) * sizeof(float), what);
  out.rows = n;
  out.cols = from.cols;
  out.centred.reset(new float[static_cast<size_t>(n * from.cols)]);
  out.norm_plus.reset(new float[static_cast<size_t>(n)]);
  out.norm_minus.reset(new float[static_cast<size_t>(n)]);
  out.slack.reset(new float[static_cast<size_t>(n)]);
  for (int64_t t = 0; t < n; ++t) {
    const int64_t r = rows[static_cast<size_t>(t)];
    std::copy_n(from.centred.get() + r * from.cols, from.cols, out.centred.get() + t * from.cols);
    out.norm_plus[static_cast<size_t>(t)] = from.norm_plus[static_cast<size_t>(r)];
    out.norm_minus[static_cast<size_t>(t)] = from.norm_minus[static_cast<size_t>(r)];
    out.slack[static_cast<size_t>(t)] = from.slack[static_cast<size_t>(r)];
  }
  return out;
}

std::vector<float> column_mean(RowMatrix z) {
  std::vector<double> sum(static_cast<size_t>(z.cols), 0.0);
  for (int64_t i = 0; i < z.rows; ++i)
    for (int64_t k = 0; k < z.cols; ++k) sum[static_cast<size_t>(k)] += z.row(i)[k];
  std::vector<float> mean(sum.size());
  for (size_t k = 0; k < sum.size(); ++k) mean[k] = z.rows ? static_cast<float>(sum[k] / static_cast<double>(z.rows)) : 0.0f;
  return mean;
}

// BLAS (Fortran interface, 32-bit integers, as Debian's OpenBLAS and FAISS use it).
extern "C" int sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
                      const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
                      const int* ldc);

// tile (nq x nb, row-major) = -2 * Q * B^T.
void minus_two_inner_products(const float* q, int64_t nq, const float* b, int64_t nb, int64_t d, float* tile) {
  DQ_ASSERT(nb < std::numeric_limits<int>::max() && d < std::numeric_limits<int>::max() &&
                nq * nb < std::numeric_limits<int>::max() * int64_t{64},
            "GEMM dimensions exceed the BLAS integer range");
  const int m = static_cast<int>(nb), n = static_cast<int>(nq), k = static_cast<int>(d);
  const float alpha = -2.0f, beta = 0.0f;
  // Column-major view: tile^T (nb x nq) = B (nb x d, i.e. B^T stored) * Q^T.
  sgemm_("T", "N", &m, &n, &k, &alpha, b, &k, q, &k, &beta, tile, &m);
}

}  // namespace dq::detail
