#pragma once
// The exact re-rank every search shares (internal to methods/knn/): whatever nominated the candidates
// (an fp32 or bf16 tile on this CPU, a LibTorch device, a FAISS index, a probed cell), they are first
// measured in float, whose error is relative to the distance itself, and only those that can still be
// among a row's k nearest are measured with exact_sqdist and ranked by (distance, index).
#include <cstdint>
#include <span>
#include <vector>

#include "methods/knn/internal/lists.h"
#include "methods/knn/search.h"

namespace dq::detail {

// sum_k (a_k - b_k)^2 in float, in whatever order the vector unit sums (rerank.cpp bounds its error).
float float_sqdist(const float* a, const float* b, int64_t d);

// exact_sqdist(a, rows[i], d) into out[i] for i < count, bit for bit, several rows at a time
// (exact_sqdist.cpp).
void exact_sqdists(const float* a, const float* const* rows, int64_t count, int64_t d, double* out);

struct RerankScratch {
  std::vector<double> lower, upper, held;
  std::vector<int32_t> candidates, survivors;
  std::vector<float> partial;         // float_prefilter's float sums
  std::vector<const float*> gathered;  // the rows measured together
  std::vector<double> exact;          // measure_survivors' distances, in survivors' order
};

// exact_sqdist of `query` to every row of scratch.survivors, into scratch.exact (same order).
void measure_survivors(const float* query, RowMatrix base, RerankScratch& scratch);

// Keeps in scratch.survivors (ascending, as given) the candidates whose exact distance to `query` can
// be among the k smallest of {held} + {candidates}: held are exact distances already ranked for this
// row (e.g. a TopK's), candidates distinct base row ids not among them. Exact: every candidate whose
// exact distance is at most the k-th smallest of that union survives, ties included.
void float_prefilter(const float* query, RowMatrix base, std::span<const int32_t> candidates, std::span<const double> held,
                     size_t k, RerankScratch& scratch);

// The exact ranking of `candidates` (distinct, ascending base ids) into `top`, which may already hold
// other rows of the same query: float prefilter, then exact_sqdist for the survivors.
void rank_candidates(const float* query, RowMatrix base, std::span<const int32_t> candidates, TopK& top,
                     RerankScratch& scratch);

}  // namespace dq::detail
