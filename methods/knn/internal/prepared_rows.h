#pragma once
// Rows made ready for the distance tiles (fp32 GEMM or the bf16 kernel), with the per-row slack of
// the proven error bound (nomination.cpp) that lets a tile nominate candidates (internal to
// methods/knn/).
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/memory_budget.h"
#include "methods/knn/internal/nomination.h"
#include "methods/knn/search.h"

namespace dq::detail {

// Relative error bound delta of a float32 GEMM squared distance: |a_ij - d_ij| <= delta (n_i + n_j)
// (the fp32 nominator's factor; nomination.cpp gives every format's bound).
double gemm_error_factor(int64_t d);

// The bf16 layouts (bf16_tiles.cpp): zero rows after the row-major copy, and rows per packed panel.
inline constexpr int64_t kBf16RowPad = 12;
inline constexpr int64_t kBf16PanelRows = 32;

// Which bf16 copies a search needs: rows as a tile's left operand (queries), packed panels as its
// right operand (base), or both (a set searched against itself). A side used only one way skips the
// other copy: in the clustered search every row is prepared again as a query in each probed cell's
// frame, and in the symmetric search each block J is prepared again in frame I as a base.
enum class Bf16Use { Rows = 1, Panels = 2, Both = 3 };

// Rows ready for the tiled search: centred on a common mean (distances unchanged; smaller norms, so a
// smaller tile error), with n_i = |c_i|^2 and the slack s_i of the nominating format's bound.
struct PreparedRows {
  MemoryBudget::Reservation reservation, bf16_reservation;
  int64_t rows = 0, cols = 0;
  Nomination nomination = Nomination::Fp32;  // the format the slack is for: Fp32 or Bf16
  std::unique_ptr<float[]> centred;     // rows x cols
  std::unique_ptr<float[]> norm_plus;   // n_i + s_i, rounded up
  std::unique_ptr<float[]> norm_minus;  // n_i - s_i, rounded down
  std::unique_ptr<float[]> slack;       // s_i, rounded up
  // Bf16 only, each where its Bf16Use asked for it: the rows as the left operand
  // ((rows + kBf16RowPad) x bf16_padded_dim(cols)) and as packed right-operand panels
  // (ceil(rows / 32) x 32 x bf16_padded_dim(cols)).
  std::unique_ptr<uint16_t[]> bf16_rows;
  std::unique_ptr<uint16_t[]> bf16_panels;
};
// `requested`: Auto and Bf16 give bf16 where resolve_nomination allows it (nomination.h), else fp32.
PreparedRows prepare_rows(RowMatrix z, const float* mean, MemoryBudget& memory, const char* what,
                          Nomination requested = Nomination::Fp32, Bf16Use use = Bf16Use::Both);
// The same with the slack of an explicit format (a nominator elsewhere: a LibTorch device); no bf16
// copies, and nominate_tile treats the rows as fp32 ones (valid: that slack is at least fp32's).
PreparedRows prepare_rows_for(RowMatrix z, const float* mean, const NominationFormat& format, MemoryBudget& memory,
                              const char* what);
// Bytes prepare_rows declares for rows x cols in the given format (for estimates).
uint64_t prepared_bytes(int64_t rows, int64_t cols, Nomination nomination, Bf16Use use = Bf16Use::Both);
std::vector<float> column_mean(RowMatrix z);

// tile (nq x nb, row-major) = -2 <c_i, c_j> for the rows [q0, q0 + nq) of q against [b0, b0 + nb) of
// b: the bf16 kernel when both are prepared in bf16 (q with its rows, b with its panels, b0 a
// multiple of kBf16PanelRows), else one SGEMM (valid with either slack: the bf16 slack exceeds the
// fp32 one).
void nominate_tile(const PreparedRows& q, int64_t q0, int64_t nq, const PreparedRows& b, int64_t b0, int64_t nb, float* tile);

// tile (nq x nb, row-major) = -2 Q B^T for row-major float rows Q (nq x d) and B (nb x d): one SGEMM
// on the calling thread's BLAS (callers in parallel regions hold SingleThreadedBlas).
void minus_two_inner_products(const float* q, int64_t nq, const float* b, int64_t nb, int64_t d, float* tile);

// bf16_tiles.cpp
int64_t bf16_padded_dim(int64_t d);
void to_bf16_rows(const float* c, int64_t rows, int64_t d, uint16_t* out);
void to_bf16_panels(const uint16_t* bf16_rows, int64_t rows, int64_t d, uint16_t* out);  // from to_bf16_rows' output
// The same panels straight from float rows (rows x d), without the row-major copy.
void to_bf16_panels_from_floats(const float* c, int64_t rows, int64_t d, uint16_t* out);
// tile (nq x nb) = -2 A B^T for A given as bf16 rows and B as bf16 panels (dp = padded dimension).
void bf16_minus_two_inner_products(const uint16_t* a_rows, int64_t nq, const uint16_t* b_panels, int64_t nb, int64_t dp,
                                   float* tile);

}  // namespace dq::detail
