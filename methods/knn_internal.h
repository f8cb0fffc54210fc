#pragma once
// Pieces shared by the exact and approximate neighbour searches (not part of the public API).
#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <tuple>
#include <vector>

#include "core/memory_budget.h"
#include "methods/knn.h"

namespace dq::detail {

// Relative error bound delta of a float32 GEMM squared distance: |a_ij - d_ij| <= delta (n_i + n_j).
double gemm_error_factor(int64_t d);

// Rows ready for the GEMM search: centred on a common mean (distances unchanged; smaller norms, so a
// smaller GEMM error), with n_i = |c_i|^2 and the error slack s_i = delta * n_i.
struct PreparedRows {
  MemoryBudget::Reservation reservation;
  int64_t rows = 0, cols = 0;
  std::unique_ptr<float[]> centred;     // rows x cols
  std::unique_ptr<float[]> norm_plus;   // n_i + s_i, rounded up
  std::unique_ptr<float[]> norm_minus;  // n_i - s_i, rounded down
  std::unique_ptr<float[]> slack;       // s_i, rounded up
};
PreparedRows prepare_rows(RowMatrix z, const float* mean, MemoryBudget& memory, const char* what);
// The listed rows of `from`, in that order.
PreparedRows gather_rows(const PreparedRows& from, std::span<const int64_t> rows, MemoryBudget& memory, const char* what);
std::vector<float> column_mean(RowMatrix z);

// One exact search: original rows (exact distances come from them) and their prepared forms.
struct TiledSearch {
  RowMatrix queries, base;
  const PreparedRows* prepared_queries = nullptr;  // nullptr: each tile is prepared with base_mean
  const PreparedRows* prepared_base = nullptr;
  const float* base_mean = nullptr;
  std::span<const int64_t> self_in_base;  // per query, a base row it must not list (empty: none)
  bool self_search = false;               // queries are the base: row i skips itself, pairs are collected
  const int32_t* groups = nullptr;        // duplicate groups (self-search with pairs)
  int64_t pairs = 0;
  ExactSearchOptions options;
};
struct SearchOutput {
  NeighbourLists lists;
  std::vector<double> smallest_pairs;
};
SearchOutput tiled_search(const TiledSearch& search, MemoryBudget& memory);

// n x k lists with every slot empty (id -1, distance +inf), declared to the budget while `reservation`
// lives.
NeighbourLists empty_lists(int64_t n, int64_t k, MemoryBudget& memory, MemoryBudget::Reservation& reservation);
// Rows whose duplicate group is another row's.
int64_t count_duplicates(const std::vector<int32_t>& groups);

// Where an approximate self-search starts: the rows' duplicate groups (pairs inside a group are zero
// and never feed lambda_C) and a result with empty lists, reserved while `lists_reservation` lives.
struct ApproximateStart {
  std::vector<int32_t> groups;
  SelfKnnResult result;
  MemoryBudget::Reservation lists_reservation;
};
ApproximateStart start_approximate(RowMatrix z, int64_t k, MemoryBudget& memory);

struct Neighbour {
  double d;
  int32_t j;
};

// The k best (distance, index) pairs offered so far, ascending; ties go to the lower index.
struct TopK {
  size_t k = 0;
  std::vector<Neighbour> best;
  void reset(size_t new_k) {
    k = new_k;
    best.clear();
  }
  void offer(double d, int32_t j);
  bool full_of_zeros() const { return k > 0 && best.size() == k && best.back().d == 0; }
};

// While alive, OpenBLAS (when it is the BLAS in the process) runs each call on the calling thread, so
// that many small GEMMs can run side by side on OpenMP threads instead of handing every call to
// OpenBLAS's own thread pool. A no-op with other BLAS libraries.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas();
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int saved_ = 0;
};

// The smallest distinct pairs (distance, lower row, higher row) offered; a pair found from both of its
// ends is kept once. Approximate searches collect lambda_C candidates with it.
using Pair = std::tuple<double, int32_t, int32_t>;
struct PairSet {
  size_t capacity = 0;
  std::set<Pair> pairs;
  void offer(const Pair& p) {
    if (capacity == 0) return;
    if (pairs.size() == capacity && !(p < *pairs.rbegin())) return;
    pairs.insert(p);
    if (pairs.size() > capacity) pairs.erase(std::prev(pairs.end()));
  }
  void offer(double d, int64_t i, int64_t j) {
    offer(Pair{d, static_cast<int32_t>(std::min(i, j)), static_cast<int32_t>(std::max(i, j))});
  }
  std::vector<double> distances() const {
    std::vector<double> out;
    for (const auto& p : pairs) out.push_back(std::get<0>(p));
    return out;
  }
  // The smallest distinct pairs over per-thread sets, ascending distances.
  static std::vector<double> merged_distances(const std::vector<PairSet>& sets, size_t capacity) {
    PairSet merged;
    merged.capacity = capacity;
    for (const auto& set : sets)
      for (const auto& pair : set.pairs) merged.offer(pair);
    return merged.distances();
  }
};

}  // namespace dq::detail
