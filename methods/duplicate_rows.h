#pragma once
// Exact duplicate rows of an embedding matrix: the one grouping every method uses where equal rows
// must be treated alike. KNN (methods/knn/): pairs inside a group are at distance zero and never feed
// lambda_C. GraphCut's dense modes (methods/graphcut/): duplicates get bit-identical similarity rows,
// so their gains tie exactly and the lowest position wins, as in the streaming mode.
//
// The policy: two rows are equal when every coordinate compares equal as float values (operator==),
//   - so -0.0 equals +0.0: rows that differ only in the sign of zeros are duplicates;
//   - NaN equals nothing, itself included: a row holding a NaN is a group of its own, even beside a
//     bit-identical row;
//   - an infinity equals the same infinity.
// Embeddings hold no NaN or infinity in practice (core/embedding_check.h refuses them where they
// enter). The grouping is total anyway and counts such rows, so that a caller relying on finite rows
// (the KNN searches) asserts it without a second pass.
#include <cstdint>
#include <vector>

namespace dq {

struct DuplicateGroups {
  // n entries: group[i] = the lowest row index whose row equals row i (i itself for the first row of
  // each group and for every row holding a NaN).
  std::vector<int32_t> group;
  int64_t duplicates = 0;       // rows whose group is an earlier row
  int64_t non_finite_rows = 0;  // rows holding a NaN or an infinity
};

// rows: n x d row-major float32 (n < 2^31; d >= 0, and with d == 0 every row equals every other).
// Hashes each row's values (-0 hashed as +0), sorts by hash, and compares rows exactly within a run of
// equal hashes: O(n d + n log n). Rows are hashed in parallel (OpenMP); the result does not depend on
// the number of threads.
DuplicateGroups duplicate_groups(const float* rows, int64_t n, int64_t d);

}  // namespace dq
