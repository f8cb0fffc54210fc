// Dense GraphCut greedy (modes naive and memo): the reference implementation's memory profile, a
// full M x M float32 similarity per class, built once with a BLAS rank-k update and shared by all
// rounds (the released code rebuilds it over each round's pool: the same entries, 3.8x the flops).
//
// Both modes accumulate sum_{p in S} s(p, x) in double in pick order: memo keeps the sums, naive
// recomputes them at every step as NaiveGreedy does. The additions are the same, so their picks
// are bit-for-bit identical.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "core/error.h"
#include "methods/duplicate_rows.h"
#include "methods/graphcut/internal/rows.h"
#include "methods/graphcut/internal/round_selector.h"

namespace dq::graphcut {
namespace {

constexpr int64_t kTile = 64;  // square tiles for the upper -> lower mirror copy

// Fills the upper triangle of the row-major m x m `out` with rows * rows^T (float32 BLAS).
void upper_gram(const float* rows, int64_t m, int64_t d, float* out) {
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(d), 1.0f, rows,
              static_cast<blasint>(d), 0.0f, out, static_cast<blasint>(m));
}

// Applies `entry(i, j, gram_ij)` to the upper triangle, mirrors it to the lower one and sets the
// diagonal from `diag(i)`. Tiled so that the column writes of the mirror stay in cache.
template <class Entry, class Diag>
void finish_symmetric(float* s, int64_t m, Entry entry, Diag diag) {
  for (int64_t bi = 0; bi < m; bi += kTile)
    for (int64_t bj = bi; bj < m; bj += kTile) {
      const int64_t ei = std::min(bi + kTile, m), ej = std::min(bj + kTile, m);
      for (int64_t i = bi; i < ei; ++i)
        for (int64_t j = std::max(bj, i + 1); j < ej; ++j) {
          const float v = entry(i, j, s[i * m + j]);
          s[i * m + j] = v;
          s[j * m + i] = v;
        }
    }
  for (int64_t i = 0; i < m; ++i) s[i * m + i] = diag(i);
}

// Exact duplicates (methods/duplicate_rows.h) get bit-identical rows and columns (and similarity
// "identical" between them), so their gains tie exactly and the lowest position wins, as in the
// streaming mode.
void equalise_duplicates(float* s, int64_t m, const DuplicateGroups& duplicates) {
  for (int64_t i = 0; i < m; ++i) {
    const int64_t p = duplicates.group[static_cast<size_t>(i)];
    if (p == i) continue;
    const float self = s[p * m + p];
    std::copy(s + p * m, s + (p + 1) * m, s + i * m);
    for (int64_t j = 0; j < m; ++j) s[j * m + i] = s[p * m + j];
    s[i * m + i] = self;
    s[i * m + p] = self;
    s[p * m + i] = self;
  }
}

class DenseSelector final : public RoundSelector {
 public:
  DenseSelector(const ClassView& cls, GraphCutKernel kernel, bool naive, MemoryBudget& memory)
      : m_(cls.size()), naive_(naive) {
    const auto m = static_cast<uint64_t>(m_);
    matrix_reservation_ = memory.reserve(m * m * sizeof(float), "GraphCut dense similarity (M x M float32)");
    sim_.reset(new float[m * m]);
    build(cls, kernel, memory);
  }

  std::vector<int64_t> select_round(std::span<const int64_t> pool, int64_t count) override {
    const auto n = static_cast<int64_t>(pool.size());
    DQ_ASSERT(count >= 0 && count <= n, "GraphCut round asks for more picks than its pool holds");
    std::vector<double> column_sum(pool.size(), 0.0), bin_sum(pool.size(), 0.0);
    for (int64_t j = 0; j < n; ++j) add_row(pool, pool[static_cast<size_t>(j)], column_sum);

    std::vector<char> taken(pool.size(), 0);
    std::vector<int64_t> picks;  // indices into pool, in pick order
    picks.reserve(static_cast<size_t>(count));
    for (int64_t step = 0; step < count; ++step) {
      if (naive_) {
        std::fill(bin_sum.begin(), bin_sum.end(), 0.0);
        for (int64_t p : picks) add_row(pool, pool[static_cast<size_t>(p)], bin_sum);
      }
      int64_t best = -1;
      double best_gain = -std::numeric_limits<double>::infinity();
      for (int64_t i = 0; i < n; ++i) {
        if (taken[static_cast<size_t>(i)]) continue;
        const double gain = column_sum[static_cast<size_t>(i)] - 2.0 * bin_sum[static_cast<size_t>(i)];
        if (best < 0 || gain > best_gain) {
          best = i;
          best_gain = gain;
        }
      }
      taken[static_cast<size_t>(best)] = 1;
      picks.push_back(best);
      if (!naive_) add_row(pool, pool[static_cast<size_t>(best)], bin_sum);
    }
    std::vector<int64_t> out;
    out.reserve(picks.size());
    for (int64_t p : picks) out.push_back(pool[static_cast<size_t>(p)]);
    return out;
  }

 private:
  // acc[i] += s(row, pool[i]) for every i.
  void add_row(std::span<const int64_t> pool, int64_t row, std::vector<double>& acc) const {
    const float* r = sim_.get() + row * m_;
    const size_t n = pool.size();
    for (size_t i = 0; i < n; ++i) acc[i] += static_cast<double>(r[pool[i]]);
  }

  void build(const ClassView& cls, GraphCutKernel kernel, MemoryBudget& memory) {
    const int64_t d = cls.d;
    auto work_reservation = memory.reserve(static_cast<uint64_t>(m_ * d) * sizeof(float), "GraphCut dense workspace");
    std::vector<float> rows(static_cast<size_t>(m_ * d));
    std::vector<double> norm2(static_cast<size_t>(m_));
    float* s = sim_.get();
    if (kernel == GraphCutKernel::NegSqEuclid) {
      // Centre the class first: distances are translation invariant, and ||a||^2 + ||b||^2 - 2 a.b
      // loses far less to cancellation near the origin.
      std::vector<double> mean(static_cast<size_t>(d), 0.0);
      for (int64_t i = 0; i < m_; ++i)
        for (int64_t k = 0; k < d; ++k) mean[static_cast<size_t>(k)] += cls.row(i)[k];
      for (auto& v : mean) v /= static_cast<double>(m_);
      for (int64_t i = 0; i < m_; ++i) {
        double n2 = 0;
        for (int64_t k = 0; k < d; ++k) {
          const float y = static_cast<float>(cls.row(i)[k] - mean[static_cast<size_t>(k)]);
          rows[static_cast<size_t>(i * d + k)] = y;
          n2 += static_cast<double>(y) * y;
        }
        norm2[static_cast<size_t>(i)] = n2;
      }
      upper_gram(rows.data(), m_, d, s);
      finish_symmetric(
          s, m_,
          [&](int64_t i, int64_t j, float g) {
            const double dist = norm2[static_cast<size_t>(i)] + norm2[static_cast<size_t>(j)] - 2.0 * g;
            return static_cast<float>(-std::max(0.0, dist));
          },
          [](int64_t) { return 0.0f; });
      equalise_duplicates(s, m_, duplicate_groups(cls.z, m_, d));
    } else {
      for (int64_t i = 0; i < m_; ++i) norm2[static_cast<size_t>(i)] = unit_row(cls.row(i), d, &rows[static_cast<size_t>(i * d)]);
      upper_gram(rows.data(), m_, d, s);
      finish_symmetric(
          s, m_, [](int64_t, int64_t, float g) { return static_cast<float>(0.5 + 0.5 * std::clamp<double>(g, -1.0, 1.0)); },
          [&](int64_t i) { return norm2[static_cast<size_t>(i)] > 0 ? 1.0f : 0.5f; });
      equalise_duplicates(s, m_, duplicate_groups(rows.data(), m_, d));
    }
  }

  int64_t m_;
  bool naive_;
  MemoryBudget::Reservation matrix_reservation_;
  std::unique_ptr<float[]> sim_;
};

}  // namespace

std::unique_ptr<RoundSelector> make_dense_selector(const ClassView& cls, GraphCutKernel kernel, bool naive,
                                                   MemoryBudget& memory) {
  return std::make_unique<DenseSelector>(cls, kernel, naive, memory);
}

}  // namespace dq::graphcut
