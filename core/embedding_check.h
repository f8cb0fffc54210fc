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
void check_embeddings(const float* z, int64_t n, int64_t d, const EmbeddingOrigin& origin);
// The same for float64 values (a network's output before conversion): a finite value beyond the
// float32 range is reported as such, not as non-finite.
void check_embeddings(const double* z, int64_t n, int64_t d, const EmbeddingOrigin& origin);

// A 2-D float32 or float64 .npy array, before it is converted to float32. A float64 value that is
// finite but beyond the float32 range (|x| > 3.40282e+38) is reported as such, not as non-finite.
// Other dtypes are left to NpyArray::as_float32 to refuse.
void check_embeddings(const NpyArray& z, const EmbeddingOrigin& origin);

}  // namespace dq
