// recall@k of approximate lists against the exact search, on a sample of query rows: the exact lists
// of the sample once (sampled_truth), then any number of lists measured against them.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "core/error.h"
#include "methods/knn/internal/recall.h"

namespace dq {

namespace detail {

NeighbourLists sampled_truth(RowMatrix z, std::span<const int64_t> sample, int64_t k, const ExactSearchOptions& options,
                             MemoryBudget& memory) {
  auto reservation = memory.reserve(sample.size() * static_cast<uint64_t>(z.cols) * sizeof(float), "recall queries");
  std::vector<float> queries(sample.size() * static_cast<size_t>(z.cols));
  for (size_t s = 0; s < sample.size(); ++s)
    std::copy_n(z.row(sample[s]), z.cols, queries.data() + s * static_cast<size_t>(z.cols));
  ExactSearchOptions o = options;
  o.k = k;
  return exact_knn(RowMatrix{queries.data(), static_cast<int64_t>(sample.size()), z.cols}, z, sample, o, memory);
}

RecallEstimate recall_with_bound(RowMatrix z, const NeighbourLists& truth, const NeighbourLists& lists,
                                 std::span<const int64_t> sample) {
  DQ_ASSERT(truth.n == static_cast<int64_t>(sample.size()) && truth.k == lists.k, "truth and lists disagree");
  std::vector<std::pair<int64_t, int64_t>> rows;  // (hits, valid) of each measured row
  rows.reserve(sample.size());
  for (size_t s = 0; s < sample.size(); ++s) {
    const int32_t* exact_ids = truth.ids_of(static_cast<int64_t>(s));
    int64_t valid = 0;
    while (valid < truth.k && exact_ids[valid] >= 0) ++valid;
    if (valid == 0) continue;
    // The tie rule compares exact distances (double, as the searches rank them), not the lists' float
    // copies: squared distances below float's range all read 0 there, and every listed row would tie
    // with the k-th (embeddings scaled by 1e-24 read recall 1 at any nprobe).
    const float* q = z.row(sample[s]);
    const double kth = exact_sqdist(q, z.row(exact_ids[valid - 1]), z.cols);
    const int32_t* found = lists.ids_of(sample[s]);
    int64_t hits = 0;
    for (int64_t t = 0; t < lists.k; ++t) {
      if (found[t] < 0) continue;
      const bool listed = std::find(exact_ids, exact_ids + valid, found[t]) != exact_ids + valid;
      hits += listed || exact_sqdist(q, z.row(found[t]), z.cols) <= kth;
    }
    rows.emplace_back(hits, valid);
  }
  int64_t hits = 0, total = 0;
  for (const auto& [h, v] : rows) {
    hits += h;
    total += v;
  }
  if (total == 0) return {std::nan(""), std::nan(""), std::nan("")};
  const double recall = static_cast<double>(hits) / static_cast<double>(total);
  const auto m = static_cast<double>(rows.size());
  if (rows.size() < 2) return {recall, 0.0, recall};
  double spread = 0;
  for (const auto& [h, v] : rows) {
    const double e = static_cast<double>(h) - recall * static_cast<double>(v);
    spread += e * e;
  }
  const double mean_valid = static_cast<double>(total) / m;
  // Rows drawn without replacement from the z.rows of the class: the finite-population correction
  // (N - m) / (N - 1) on the variance, so a sample of the whole class has no error (its recall is the
  // class's) and lower95 then holds the target on the recall itself.
  const auto population = static_cast<double>(z.rows);
  const double correction = std::max(0.0, (population - m) / (population - 1));
  const double standard_error = std::sqrt(spread / (m * (m - 1)) * correction) / mean_valid;
  return {recall, standard_error, std::clamp(recall - 1.645 * standard_error, 0.0, recall)};
}


}  // namespace detail

RecallEstimate recall_estimate_at_k(RowMatrix z, const NeighbourLists& lists, std::span<const int64_t> sample,
                                    const ExactSearchOptions& options, MemoryBudget& memory) {
  DQ_ASSERT(lists.n == z.rows, "lists and matrix disagree");
  if (sample.empty()) return {std::nan(""), std::nan(""), std::nan("")};
  return detail::recall_with_bound(z, detail::sampled_truth(z, sample, lists.k, options, memory), lists, sample);
}

double recall_at_k(RowMatrix z, const NeighbourLists& lists, std::span<const int64_t> sample,
                   const ExactSearchOptions& options, MemoryBudget& memory) {
  return recall_estimate_at_k(z, lists, sample, options, memory).recall;
}

}  // namespace dq
