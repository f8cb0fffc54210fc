#pragma once
// The one check of embeddings, made where they enter the program and before any selection runs:
// a .npy file given to `dqbench select`, the extractor of a cell (proxy network, TorchScript model,
// or its cached output), a dataset that carries its own features (synthetic_embeddings). Methods
// then only assert what this guarantees. Every value must be a finite float32: a NaN or an infinity
// poisons every distance (and so every metric) it touches, and a float64 value beyond the float32
// range would silently become an infinity when converted.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace dq {

struct NpyArray;

// The largest squared norm of one embedding row: FLT_MAX / 4, so that every squared distance
// between two rows, ||x||^2 + ||y||^2 - 2 x.y <= (||x|| + ||y||)^2, is a finite float32. A row of
// finite float32 values may still break it (1e20 in every dim): its distances would all be inf.
inline constexpr double kMaxRowSquaredNorm = 3.4028234663852886e38 / 4;

// What the message names: the source, and for the bad row its class.
struct EmbeddingOrigin {
  std::string source;                      // "emb.npy", "TorchScript extractor model.pt", ...
  std::span<const int64_t> labels;         // class of dataset row i (same length as the rows)
  const std::vector<std::string>* class_names = nullptr;  // when the labels index named classes
  int64_t first_row = 0;  // the dataset row of z's first row (a batch of a larger set); labels[0] is its class
};

// z: n x d row-major, row i = dataset row i. Throws dq::Error naming the source, the first bad row
// (in row order), its class, the dimension and the value, plus how many values are bad:
//   "emb.npy: embedding row 7 (class 1), dim 2 is NaN (1 bad value in rows 0..29): embeddings must be finite"
// and, when every value is finite, for the first row whose squared norm exceeds kMaxRowSquaredNorm:
//   "emb.npy: embedding row 0 (class 0) has squared norm 4e+40, beyond 8.50706e+37 (...): squared distances ..."
void check_embeddings(const float* z, int64_t n, int64_t d, const EmbeddingOrigin& origin);
// The same for float64 values (a network's output before conversion): a finite value beyond the
// float32 range is reported as such, not as non-finite.
void check_embeddings(const double* z, int64_t n, int64_t d, const EmbeddingOrigin& origin);

// A 2-D float32 or float64 .npy array, before it is converted to float32. A float64 value that is
// finite but beyond the float32 range (|x| > 3.40282e+38) is reported as such, not as non-finite.
// Other dtypes are left to NpyArray::as_float32 to refuse. float64 that float32 cannot carry
// (float32_loss) is warned about on stderr, not refused: near-copies may be meant as copies.
void check_embeddings(const NpyArray& z, const EmbeddingOrigin& origin);

// What converting n x d float64 rows to float32 loses: rows distinct in float64 that become equal to
// another row (a newcomer's rows 1e-3 apart on an offset of 1e6 all became one row), with one such
// pair (lower rows first), and nonzero values that become 0 (1e-50), with the first one's row and dim.
struct Float32Loss {
  int64_t merged_rows = 0;             // rows equal in float32 to an earlier, float64-distinct row
  int64_t merged_row = -1, merged_with = -1;
  int64_t zeroed_values = 0;
  int64_t zeroed_row = -1, zeroed_dim = -1;
};
Float32Loss float32_loss(const double* z, int64_t n, int64_t d);

}  // namespace dq
