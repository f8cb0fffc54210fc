// Centred rows, their norms and the error slack, and the distance tile itself (one SGEMM, or the bf16
// kernel of bf16_tiles.cpp): what lets a float tile nominate candidates that are then measured exactly.
//
// Each tile is a float block of -2 <c_i, c_j> over centred rows c (distances do not change when every
// row moves by the same mean; the norms, and with them the rounding error, shrink). With
// n_i = |c_i|^2 the float distance a_ij = n_i + n_j - 2 <c_i, c_j> is not exact: it can reorder
// near-ties and does not give exactly zero for duplicates. So a tile only nominates candidates:
// nomination.cpp proves |a_ij - d_ij| <= s_i + s_j for the slack s of the tile's format, so the true
// k nearest of row i all satisfy a_ij - s_j - s_i <= tau_i, where tau_i is the k-th smallest
// a_ij + s_j + s_i. Those candidates are measured exactly (rerank.cpp) and ranked by (distance,
// index). The same bounds let the pair heap for lambda_C skip every pair whose lower bound already
// exceeds the 50th smallest distance found so far.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "methods/knn/internal/float_steps.h"
#include "methods/knn/internal/prepared_rows.h"
#include "methods/size_limits.h"

namespace dq::detail {

double gemm_error_factor(int64_t d) {
  const double g = (2.0 * static_cast<double>(d) + 16.0) * 0x1p-24;
  return 1.05 * g / (1.0 - g);  // 5% headroom for the float comparisons made with the bound
}

namespace {
bool uses(Bf16Use use, Bf16Use part) { return (static_cast<int>(use) & static_cast<int>(part)) != 0; }
}  // namespace

uint64_t prepared_bytes(int64_t rows, int64_t cols, Nomination nomination, Bf16Use use) {
  uint64_t bytes = static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols + 3) * sizeof(float);
  if (nomination == Nomination::Bf16) {
    const auto dp = static_cast<uint64_t>(bf16_padded_dim(cols));
    const auto panels = static_cast<uint64_t>((rows + kBf16PanelRows - 1) / kBf16PanelRows);
    if (uses(use, Bf16Use::Rows)) bytes += static_cast<uint64_t>(rows + kBf16RowPad) * dp * sizeof(uint16_t);
    if (uses(use, Bf16Use::Panels)) bytes += panels * kBf16PanelRows * dp * sizeof(uint16_t);
  }
  return bytes;
}

namespace {

// prepare_rows and prepare_rows_for: `format` set means its slack and no bf16 copies.
PreparedRows prepare(RowMatrix z, const float* mean, MemoryBudget& memory, const char* what, Nomination requested,
                     const NominationFormat* format, Bf16Use use) {
  check_search_rows(z.rows, what);  // before anything is reserved
  check_search_dims(z.cols, what);
  PreparedRows out;
  out.rows = z.rows;
  out.cols = z.cols;
  // Centred rows and their norms in one pass (declared first); the bf16 copies, needed only when
  // the largest norm allows bf16, after. The norms sum in double in whatever order the vector unit
  // takes (the bound holds for any).
  out.reservation = memory.reserve(prepared_bytes(z.rows, z.cols, Nomination::Fp32) + static_cast<uint64_t>(z.rows) * sizeof(double), what);
  std::unique_ptr<double[]> norms(new double[static_cast<size_t>(z.rows)]);
  // Not zero-filled: every element is written below, and zeroing hundreds of MB costs a pass.
  out.centred.reset(new float[static_cast<size_t>(z.rows * z.cols)]);
  double max_norm = 0;
#pragma omp parallel for schedule(static) reduction(max : max_norm)
  for (int64_t i = 0; i < z.rows; ++i) {
    const float* x = z.row(i);
    float* c = out.centred.get() + i * z.cols;
    double norm = 0;
#pragma omp simd reduction(+ : norm)
    for (int64_t k = 0; k < z.cols; ++k) {
      const float v = x[k] - mean[k];
      c[k] = v;
      norm += static_cast<double>(v) * v;
    }
    norms[static_cast<size_t>(i)] = norm;
    max_norm = std::max(max_norm, norm);
  }
  out.nomination = format ? Nomination::Fp32 : resolve_nomination(requested, z.cols, max_norm);
  out.norm_plus.reset(new float[static_cast<size_t>(z.rows)]);
  out.norm_minus.reset(new float[static_cast<size_t>(z.rows)]);
  out.slack.reset(new float[static_cast<size_t>(z.rows)]);
  const NominationBound bound = nomination_bound(
      format ? *format : out.nomination == Nomination::Bf16 ? bf16_cpu_format() : fp32_cpu_format(), z.cols);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < z.rows; ++i) {
    const double norm = norms[static_cast<size_t>(i)];
    // Rounded outwards so that the float comparisons never shrink the margin.
    const double slack = bound.slack(norm);
    out.slack[static_cast<size_t>(i)] = static_cast<float>(slack);
    out.norm_plus[static_cast<size_t>(i)] = round_up(norm + slack);
    out.norm_minus[static_cast<size_t>(i)] = round_down(norm - slack);
  }
  if (out.nomination == Nomination::Bf16) {
    out.bf16_reservation = memory.reserve(prepared_bytes(z.rows, z.cols, Nomination::Bf16, use) -
                                              prepared_bytes(z.rows, z.cols, Nomination::Fp32),
                                          what);
    const int64_t dp = bf16_padded_dim(z.cols), panels = (z.rows + kBf16PanelRows - 1) / kBf16PanelRows;
    if (uses(use, Bf16Use::Rows)) {
      out.bf16_rows.reset(new uint16_t[static_cast<size_t>((z.rows + kBf16RowPad) * dp)]);
      to_bf16_rows(out.centred.get(), z.rows, z.cols, out.bf16_rows.get());
    }
    if (uses(use, Bf16Use::Panels)) {
      out.bf16_panels.reset(new uint16_t[static_cast<size_t>(panels * kBf16PanelRows * dp)]);
      if (out.bf16_rows) to_bf16_panels(out.bf16_rows.get(), z.rows, z.cols, out.bf16_panels.get());
      else to_bf16_panels_from_floats(out.centred.get(), z.rows, z.cols, out.bf16_panels.get());
    }
  }
  return out;
}

}  // namespace

PreparedRows prepare_rows(RowMatrix z, const float* mean, MemoryBudget& memory, const char* what, Nomination requested,
                          Bf16Use use) {
  return prepare(z, mean, memory, what, requested, nullptr, use);
}

PreparedRows prepare_rows_for(RowMatrix z, const float* mean, const NominationFormat& format, MemoryBudget& memory,
                              const char* what) {
  return prepare(z, mean, memory, what, Nomination::Fp32, &format, Bf16Use::Both);
}

std::vector<float> column_mean(RowMatrix z) {
  std::vector<double> sum(static_cast<size_t>(z.cols), 0.0);
  // Threads take column slices, each summing its columns over the rows in order: the same sums, bit
  // for bit, as one running sum per column (a large base, e.g. the recall sample's 200,000 rows, is
  // one call). Rows go in blocks that stay in cache while each 32-column slice of them is added, the
  // slice's running sums in registers.
  constexpr int64_t kSlice = 32, kRowBlock = 64;
  const bool parallel = z.rows * z.cols >= (int64_t{1} << 22) && !omp_in_parallel();
  const int threads = parallel ? omp_get_max_threads() : 1;
  const int64_t slices = (z.cols + kSlice - 1) / kSlice;
#pragma omp parallel num_threads(threads) if (parallel)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t s0 = slices * t / nt, s1 = slices * (t + 1) / nt;  // this thread's slices
    for (int64_t r0 = 0; r0 < z.rows; r0 += kRowBlock) {
      const int64_t r1 = std::min(z.rows, r0 + kRowBlock);
      for (int64_t sl = s0; sl < s1; ++sl) {
        const int64_t k0 = sl * kSlice, width = std::min(kSlice, z.cols - k0);
        double* total = sum.data() + k0;
        if (width == kSlice) {
          double acc[kSlice];
          for (int64_t k = 0; k < kSlice; ++k) acc[k] = total[k];
          for (int64_t i = r0; i < r1; ++i) {
            const float* x = z.row(i) + k0;
#pragma omp simd
            for (int64_t k = 0; k < kSlice; ++k) acc[k] += x[k];
          }
          for (int64_t k = 0; k < kSlice; ++k) total[k] = acc[k];
        } else {
          for (int64_t i = r0; i < r1; ++i)
            for (int64_t k = 0; k < width; ++k) total[k] += z.row(i)[k0 + k];
        }
      }
    }
  }
  std::vector<float> mean(sum.size());
  for (size_t k = 0; k < sum.size(); ++k) mean[k] = z.rows ? static_cast<float>(sum[k] / static_cast<double>(z.rows)) : 0.0f;
  return mean;
}

// BLAS (Fortran interface, 32-bit integers, as Debian's OpenBLAS and FAISS use it).
extern "C" int sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
                      const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
                      const int* ldc);

// tile (nq x nb, row-major) = -2 * Q * B^T for row-major Q (nq x d) and B (nb x d): one SGEMM.
void minus_two_inner_products(const float* q, int64_t nq, const float* b, int64_t nb, int64_t d, float* tile) {
  DQ_ASSERT(nb < std::numeric_limits<int>::max() && d < std::numeric_limits<int>::max() &&
                nq * nb < std::numeric_limits<int>::max() * int64_t{64},
            "GEMM dimensions exceed the BLAS integer range");
  const int m = static_cast<int>(nb), n = static_cast<int>(nq), k = static_cast<int>(d);
  const float alpha = -2.0f, beta = 0.0f;
  // Column-major view: tile^T (nb x nq) = B (nb x d, i.e. B^T stored) * Q^T.
  sgemm_("T", "N", &m, &n, &k, &alpha, b, &k, q, &k, &beta, tile, &m);
}

void nominate_tile(const PreparedRows& q, int64_t q0, int64_t nq, const PreparedRows& b, int64_t b0, int64_t nb, float* tile) {
  const int64_t d = b.cols;
  DQ_ASSERT(q.cols == d && q0 + nq <= q.rows && b0 + nb <= b.rows, "tile outside its rows");
  if (q.nomination == Nomination::Bf16 && b.nomination == Nomination::Bf16) {
    DQ_ASSERT(b0 % kBf16PanelRows == 0, "bf16 tiles start at a panel boundary");
    DQ_ASSERT(q.bf16_rows && b.bf16_panels, "bf16 tile sides prepared without the copy they are used as");
    const int64_t dp = bf16_padded_dim(d);
    bf16_minus_two_inner_products(q.bf16_rows.get() + q0 * dp, nq, b.bf16_panels.get() + (b0 / kBf16PanelRows) * kBf16PanelRows * dp,
                                  nb, dp, tile);
    return;
  }
  minus_two_inner_products(q.centred.get() + q0 * d, nq, b.centred.get() + b0 * d, nb, d, tile);
}

}  // namespace dq::detail
