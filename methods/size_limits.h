#pragma once
// The largest inputs the selection code supports. A user reaches these with a big enough class or
// wide enough embeddings, so each is a dq::Error naming the class and the size, checked where the
// class enters a search (before anything is allocated), never an assert.
#include <cstdint>
#include <limits>
#include <string>

namespace dq {

// Rows of one search (a class): neighbour ids and duplicate-group ids are int32, and the searches
// need rows < 2^31 - 1, so at most 2^31 - 2 rows.
constexpr int64_t kMaxSearchRows = std::numeric_limits<int32_t>::max() - 1;
// Embedding width of a search: the nomination bound (methods/knn/nomination.cpp) is proven for
// d * 2^-24 < 1/2, i.e. d < 2^23, which also keeps BLAS's 32-bit dimensions in range.
constexpr int64_t kMaxSearchDims = (int64_t{1} << 23) - 1;

// Throws dq::Error "<what>: <rows> samples exceed ... (at most 2147483646)" when rows > kMaxSearchRows.
// `what` names the input, e.g. "class 3" (class_limit_name).
void check_search_rows(int64_t rows, const std::string& what);
// Throws dq::Error "<what>: <dims>-dimensional embeddings ..." unless 1 <= dims <= kMaxSearchDims.
void check_search_dims(int64_t dims, const std::string& what);
// Both, for a class: "class <label>".
void check_class_search_size(int64_t label, int64_t rows, int64_t dims);

}  // namespace dq
