// The bf16 distance tile on this CPU: rows rounded to bfloat16 (round to nearest even), inner products
// by AVX-512 BF16 VDPBF16PS with fp32 accumulation, -2 <c_i, c_j> written as float. Its error bound is
// bf16_cpu_format() (nomination.cpp); callers check cpu_has_bf16_kernel() first.
//
// Layout. The left operand is row-major bf16 (d rounded up to even, pairs of columns adjacent) with
// kBf16RowPad zero rows after the last, so that a 12-row block may read past the end. The right
// operand is packed in panels of 32 rows: for each pair p of columns, the 32 rows' two values side
// by side (64 bf16 = two zmm registers), zero rows filling the last panel. The kernel holds a 12 x 32
// block of fp32 sums in 24 registers; each pair of columns costs two panel loads, 12 broadcasts and 24
// VDPBF16PS. A single thread runs each call (the searches run tiles side by side on OpenMP threads).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "methods/knn/internal/prepared_rows.h"

namespace dq::detail {
namespace {

constexpr int64_t kRows = 12;                           // rows per register block
constexpr int64_t kCols = kBf16PanelRows;               // columns per panel (32)
constexpr int64_t kChunkRows = 16 * kRows;              // left rows kept in L2 while the panels stream

static_assert(kBf16RowPad >= kRows, "row padding must cover a register block");

// Round to nearest even, as VCVTNE2PS2BF16 does (inputs are finite: the searches assert it); for the
// tail of a row the vector conversion does not cover.
uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7F800000u) == 0) u &= 0x80000000u;  // denormal: flushed to (signed) zero, as the hardware
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

template <int64_t R>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) inline void block_rx32(
    const uint16_t* a, int64_t lda, const uint16_t* panel, int64_t pairs, float* c, int64_t ldc, int64_t rows, int64_t cols) {
  __m512 acc[R][2];
  for (int64_t r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(panel + p * 2 * kCols);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(panel + p * 2 * kCols + kCols);
#pragma GCC unroll 12
    for (int64_t r = 0; r < R; ++r) {
      int32_t v;
      std::memcpy(&v, a + r * lda + 2 * p, sizeof v);
      const __m512bh av = (__m512bh)_mm512_set1_epi32(v);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
    }
  }
  const __m512 minus_two = _mm512_set1_ps(-2.0f);
  const __mmask16 m0 = cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32 ? __mmask16(0xFFFF) : cols <= 16 ? __mmask16(0) : __mmask16((1u << (cols - 16)) - 1);
  for (int64_t r = 0; r < rows; ++r) {
    _mm512_mask_storeu_ps(c + r * ldc, m0, _mm512_mul_ps(acc[r][0], minus_two));
    _mm512_mask_storeu_ps(c + r * ldc + 16, m1, _mm512_mul_ps(acc[r][1], minus_two));
  }
}

// A 12 x 32 block (24 accumulators), and 8 x 32 and 4 x 32 ones for the last rows of a call: a
// search with a few queries (the probe's far cells, the recall trials' one or two rows per cell) then
// computes 4 or 8 rows, not 12 (a smaller block streams the panel again per pass, so nine or more
// remaining rows still take one 12-row pass). Each sum is the same whichever block computes it.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void block_12x32(
    const uint16_t* a, int64_t lda, const uint16_t* panel, int64_t pairs, float* c, int64_t ldc, int64_t rows, int64_t cols) {
  block_rx32<kRows>(a, lda, panel, pairs, c, ldc, rows, cols);
}
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void block_8x32(
    const uint16_t* a, int64_t lda, const uint16_t* panel, int64_t pairs, float* c, int64_t ldc, int64_t rows, int64_t cols) {
  block_rx32<8>(a, lda, panel, pairs, c, ldc, rows, cols);
}
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void block_4x32(
    const uint16_t* a, int64_t lda, const uint16_t* panel, int64_t pairs, float* c, int64_t ldc, int64_t rows, int64_t cols) {
  block_rx32<4>(a, lda, panel, pairs, c, ldc, rows, cols);
}

}  // namespace

int64_t bf16_padded_dim(int64_t d) { return d + (d & 1); }

namespace {

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void convert_row(const float* x, int64_t d, uint16_t* out) {
  int64_t k = 0;
  for (; k + 32 <= d; k += 32) {
    const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(x + k));
    _mm512_storeu_si512(out + k, (__m512i)b);
  }
  for (; k < d; ++k) out[k] = to_bf16(x[k]);
}

}  // namespace

namespace {

// Rows at or above this many go through an OpenMP loop: the exact search's base, or the recall
// sample's, is one call on 200,000 rows. (Inside another parallel region, e.g. a clustered cell of
// 4,096 rows or more, the inner team has one thread unless nesting is enabled; every row and panel
// is independent either way.)
constexpr int64_t kParallelRows = 4096;

// One panel from the 32-bit words of its rows (row r's pair p at words[r * pairs + p]; rows at or
// beyond `valid` read as zero): word (p, col) = row col's pair p. Two 16-lane gathers per pair.
__attribute__((target("avx512f"))) void transpose_panel(const uint32_t* words, int64_t valid, int64_t pairs, uint32_t* panel) {
  alignas(64) int32_t idx[16];
  for (int r = 0; r < 16; ++r) idx[r] = static_cast<int32_t>(r * pairs);
  const __m512i index = _mm512_load_si512(idx);
  const __mmask16 m0 = valid >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << valid) - 1);
  const __mmask16 m1 = valid >= 32 ? __mmask16(0xFFFF) : valid <= 16 ? __mmask16(0) : __mmask16((1u << (valid - 16)) - 1);
  const auto* lo = reinterpret_cast<const int*>(words);
  const int* hi = m1 ? reinterpret_cast<const int*>(words + 16 * pairs) : lo;  // (rows 16-31 only where they exist)
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512i a = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m0, index, lo + p, 4);
    const __m512i b = m1 ? _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m1, index, hi + p, 4) : _mm512_setzero_si512();
    _mm512_storeu_si512(panel + p * kCols, a);
    _mm512_storeu_si512(panel + p * kCols + 16, b);
  }
}

}  // namespace

void to_bf16_rows(const float* c, int64_t rows, int64_t d, uint16_t* out) {
  DQ_ASSERT(cpu_has_bf16_kernel(), "bf16 rows on a CPU without AVX-512 BF16");
  const int64_t dp = bf16_padded_dim(d);
#pragma omp parallel for schedule(static) if (rows >= kParallelRows)
  for (int64_t i = 0; i < rows; ++i) {
    convert_row(c + i * d, d, out + i * dp);
    if (dp != d) out[i * dp + d] = 0;
  }
  std::fill(out + rows * dp, out + (rows + kBf16RowPad) * dp, uint16_t{0});
}

// Panel p holds, for each pair of columns, the pair of row p * 32 + col at word pair * 32 + col: a
// transpose of the rows' 32-bit pairs.
void to_bf16_panels(const uint16_t* bf16_rows, int64_t rows, int64_t d, uint16_t* out) {
  DQ_ASSERT(cpu_has_bf16_kernel(), "bf16 panels on a CPU without AVX-512 BF16");
  const int64_t pairs = bf16_padded_dim(d) / 2, panels = (rows + kCols - 1) / kCols;
  const auto* words = reinterpret_cast<const uint32_t*>(bf16_rows);
#pragma omp parallel for schedule(static) if (rows >= kParallelRows)
  for (int64_t p = 0; p < panels; ++p)
    transpose_panel(words + p * kCols * pairs, std::min(kCols, rows - p * kCols), pairs,
                    reinterpret_cast<uint32_t*>(out + p * kCols * 2 * pairs));
}

void to_bf16_panels_from_floats(const float* c, int64_t rows, int64_t d, uint16_t* out) {
  DQ_ASSERT(cpu_has_bf16_kernel(), "bf16 panels on a CPU without AVX-512 BF16");
  const int64_t dp = bf16_padded_dim(d), pairs = dp / 2, panels = (rows + kCols - 1) / kCols;
#pragma omp parallel if (rows >= kParallelRows)
  {
    std::vector<uint16_t> block(static_cast<size_t>(kCols * dp));  // one panel's rows, row-major bf16
#pragma omp for schedule(static)
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t valid = std::min(kCols, rows - p * kCols);
      for (int64_t r = 0; r < valid; ++r) {
        convert_row(c + (p * kCols + r) * d, d, block.data() + r * dp);
        if (dp != d) block[static_cast<size_t>(r * dp + d)] = 0;
      }
      transpose_panel(reinterpret_cast<const uint32_t*>(block.data()), valid, pairs, reinterpret_cast<uint32_t*>(out + p * kCols * dp));
    }
  }
}

void bf16_minus_two_inner_products(const uint16_t* a_rows, int64_t nq, const uint16_t* b_panels, int64_t nb, int64_t dp,
                                   float* tile) {
  DQ_ASSERT(cpu_has_bf16_kernel(), "bf16 tiles on a CPU without AVX-512 BF16");
  const int64_t pairs = dp / 2, panels = (nb + kCols - 1) / kCols;
  for (int64_t i0 = 0; i0 < nq; i0 += kChunkRows) {
    const int64_t i1 = std::min(nq, i0 + kChunkRows);
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t cols = std::min(kCols, nb - p * kCols);
      const uint16_t* panel = b_panels + p * kCols * dp;
      for (int64_t i = i0; i < i1;) {  // a block reads at most 3 padding rows past the last (kBf16RowPad)
        const int64_t left = i1 - i, rows = std::min<int64_t>(left, left > 8 ? kRows : left > 4 ? 8 : 4);
        float* c = tile + i * nb + p * kCols;
        if (left > 8) block_12x32(a_rows + i * dp, dp, panel, pairs, c, nb, rows, cols);
        else if (left > 4) block_8x32(a_rows + i * dp, dp, panel, pairs, c, nb, rows, cols);
        else block_4x32(a_rows + i * dp, dp, panel, pairs, c, nb, rows, cols);
        i += rows;
      }
    }
  }
}

}  // namespace dq::detail
