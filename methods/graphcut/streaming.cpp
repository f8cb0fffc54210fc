// Streaming GraphCut greedy: the same picks as the dense modes without any M x M buffer.
//
// Algebra (lambda = 1, pool V, partial bin S):
//  - neg_sqeuclid: gain(x) = (2|S| - |V|) ||x||^2 + x.(2 sum_V - 4 sum_S) + const
//                          = -(|V| - 2|S|) ||x - c||^2 + const,  c = (sum_V - 2 sum_S) / (|V| - 2|S|),
//    and |V| - 2|S| >= 1 for every bin size we use, so the best x is the pool point nearest to c.
//  - cosine_affine: gain(x) = 0.5 * u_x . w + const,  u_x = x/||x||,  w = sum_V u - 2 sum_S u,
//    so the best x maximises u_x . w.
// Each step is therefore one exact "best point" query with a query point q (c or w) that moves a
// little per step. Any point's score is 1-Lipschitz in q (||u_x|| <= 1), so a score computed when q
// was at q_s bounds the score now by the path length q has travelled since: a lower bound on the
// cost h = ||x - c|| (or h = -u.w) is h_s - (P_now - P_s), P = cumulative path length. Keeping the
// pool in a min-heap keyed by h_s + P_s makes the order of these bounds time-invariant: each query
// pops only the points whose bound is within reach of the best, re-evaluates them exactly and
// pushes them back. In high dimension this prunes far better than ball/cluster bounds, which lose
// 2*radius*distance to the triangle inequality, while q moves by only ~2*distance/|V| per pick.
// Exactness: costs are computed in double, ties go to the lowest position, and a point is skipped
// only when its bound exceeds the best by a relative slack far above the rounding error.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "methods/graphcut/internal/rows.h"
#include "methods/graphcut/internal/round_selector.h"

namespace dq::graphcut {
namespace {

constexpr double kSlack = 1e-9;  // relative margin on every pruning comparison
constexpr double kTie = 1e-11;   // costs closer than kTie * (what the query sums) are ties: far above double
                                 // rounding (~d * 1e-16), far below the dense modes' float32 resolution

// The two per-point kernels, nearly all of this mode's time. Eight independent partial sums in a
// fixed order (so results do not depend on the machine), held in GCC/Clang vector registers of two
// doubles: a single running sum made them latency-bound, one dependent add per element.
typedef double Double2 __attribute__((vector_size(16)));

inline Double2 load2(const float* x) { return Double2{static_cast<double>(x[0]), static_cast<double>(x[1])}; }
inline Double2 load2(const double* c) { return Double2{c[0], c[1]}; }
inline double reduce(Double2 a, Double2 b, Double2 c, Double2 d) {
  const Double2 s = (a + b) + (c + d);
  return s[0] + s[1];
}

double squared_distance(const float* x, const double* c, int64_t d) {
  Double2 a0 = {0, 0}, a1 = a0, a2 = a0, a3 = a0;
  int64_t k = 0;
  for (; k + 8 <= d; k += 8) {
    const Double2 t0 = load2(x + k) - load2(c + k), t1 = load2(x + k + 2) - load2(c + k + 2);
    const Double2 t2 = load2(x + k + 4) - load2(c + k + 4), t3 = load2(x + k + 6) - load2(c + k + 6);
    a0 += t0 * t0, a1 += t1 * t1, a2 += t2 * t2, a3 += t3 * t3;
  }
  double tail = 0;
  for (; k < d; ++k) tail += (static_cast<double>(x[k]) - c[k]) * (static_cast<double>(x[k]) - c[k]);
  return reduce(a0, a1, a2, a3) + tail;
}

double dot(const float* x, const double* c, int64_t d) {
  Double2 a0 = {0, 0}, a1 = a0, a2 = a0, a3 = a0;
  int64_t k = 0;
  for (; k + 8 <= d; k += 8) {
    a0 += load2(x + k) * load2(c + k), a1 += load2(x + k + 2) * load2(c + k + 2);
    a2 += load2(x + k + 4) * load2(c + k + 4), a3 += load2(x + k + 6) * load2(c + k + 6);
  }
  double tail = 0;
  for (; k < d; ++k) tail += static_cast<double>(x[k]) * c[k];
  return reduce(a0, a1, a2, a3) + tail;
}

struct HeapEntry {
  double key;     // cost when last evaluated + path length at that time
  int64_t index;  // index into the round's pool
};
struct HeapAfter {  // std heap functions build a max-heap; this ordering makes it a min-heap
  bool operator()(const HeapEntry& a, const HeapEntry& b) const {
    return a.key > b.key || (a.key == b.key && a.index > b.index);
  }
};

double distance(const double* a, const double* b, int64_t d) {
  double s = 0;
  for (int64_t k = 0; k < d; ++k) s += (a[k] - b[k]) * (a[k] - b[k]);
  return std::sqrt(s);
}

class StreamingSelector final : public RoundSelector {
 public:
  StreamingSelector(const ClassView& cls, GraphCutKernel kernel, MemoryBudget& memory)
      : cls_(cls), cosine_(kernel == GraphCutKernel::CosineAffine) {
    const auto m = static_cast<uint64_t>(cls.size());
    // Heap + refreshed list + per-point norms: O(M), declared for the record.
    reservation_ = memory.reserve(m * (2 * sizeof(HeapEntry) + sizeof(double)), "GraphCut streaming state");
    if (cosine_) {
      inv_norm_.resize(m);
      for (int64_t i = 0; i < cls.size(); ++i) {
        const double n2 = squared_norm(cls.row(i), cls.d);
        inv_norm_[static_cast<size_t>(i)] = n2 > 0 ? 1.0 / std::sqrt(n2) : 0.0;
      }
    } else {
      max_norm_ = 0;
      for (int64_t i = 0; i < cls.size(); ++i) max_norm_ = std::max(max_norm_, std::sqrt(squared_norm(cls.row(i), cls.d)));
    }
  }

  std::vector<int64_t> select_round(std::span<const int64_t> pool, int64_t count) override {
    const auto n = static_cast<int64_t>(pool.size());
    DQ_ASSERT(count >= 0 && 2 * (count - 1) < std::max<int64_t>(n, 1), "GraphCut round too large for its pool");
    std::vector<int64_t> picks;
    if (count == 0) return picks;
    const int64_t d = cls_.d;
    const auto du = static_cast<size_t>(d);

    // sum over the pool of x (sqeuclid) or of u (cosine), and over the partial bin.
    std::vector<double> sum_pool(du, 0.0), sum_bin(du, 0.0), query(du), next_query(du);
    for (int64_t p : pool) add_point(p, sum_pool);
    int64_t bin_size = 0;
    auto compute_query = [&](std::vector<double>& q) {
      if (cosine_) {
        for (size_t k = 0; k < du; ++k) q[k] = sum_pool[k] - 2.0 * sum_bin[k];
      } else {
        const double denom = static_cast<double>(n - 2 * bin_size);
        DQ_ASSERT(denom > 0, "GraphCut centre undefined: |V| - 2|S| must stay positive");
        for (size_t k = 0; k < du; ++k) q[k] = (sum_pool[k] - 2.0 * sum_bin[k]) / denom;
      }
    };
    compute_query(query);

    std::vector<HeapEntry> heap;
    heap.reserve(pool.size());
    for (int64_t i = 0; i < n; ++i) heap.push_back({cost(pool[static_cast<size_t>(i)], query), i});
    std::make_heap(heap.begin(), heap.end(), HeapAfter{});

    double path = 0;  // cumulative distance travelled by the query point this round
    std::vector<HeapEntry> refreshed;
    picks.reserve(static_cast<size_t>(count));
    for (int64_t step = 0; step < count; ++step) {
      if (step > 0) {
        compute_query(next_query);
        path += distance(next_query.data(), query.data(), d);
        query.swap(next_query);
      }
      const double scale = cosine_ ? std::sqrt(std::inner_product(query.begin(), query.end(), query.begin(), 0.0)) : 0.0;
      // What rounding can move a cost by, up to kTie: the query sums n vectors of norm at most
      // max_norm_ (1 for unit rows) and divides by |V| - 2|S| (sqeuclid).
      const double tie_unit = static_cast<double>(n) * max_norm_ / (cosine_ ? 1.0 : static_cast<double>(n - 2 * bin_size));
      int64_t best = -1;
      double best_cost = std::numeric_limits<double>::infinity();
      refreshed.clear();
      while (!heap.empty()) {
        const double lower_bound = heap.front().key - path;
        if (best >= 0 && lower_bound > best_cost + kSlack * (std::abs(best_cost) + path + scale) + kTie * tie_unit) break;
        std::pop_heap(heap.begin(), heap.end(), HeapAfter{});
        const int64_t i = heap.back().index;
        heap.pop_back();
        if (!heap.empty()) prefetch_row(pool[static_cast<size_t>(heap.front().index)]);
        const double c = cost(pool[static_cast<size_t>(i)], query);
        if (c < best_cost || (c == best_cost && i < best)) {
          best = i;
          best_cost = c;
        }
        refreshed.push_back({c, i});
      }
      DQ_ASSERT(best >= 0, "GraphCut streaming query found no candidate");
      // Gains equal in exact arithmetic can differ in the last bits of their double evaluation (two
      // points under the cosine kernel always tie: u_0.(u_0 + u_1) = u_1.(u_0 + u_1)). Costs within
      // kTie * tie_unit of the best are ties and go to the lowest position, as in the dense modes.
      // Every such candidate was evaluated: the loop above stops only beyond that margin.
      const double tie_limit = best_cost + kTie * tie_unit;
      for (const auto& r : refreshed)
        if (r.key <= tie_limit && r.index < best) best = r.index;
      for (const auto& r : refreshed) {
        if (r.index == best) continue;
        heap.push_back({r.key + path, r.index});
        std::push_heap(heap.begin(), heap.end(), HeapAfter{});
      }
      const int64_t chosen = pool[static_cast<size_t>(best)];
      picks.push_back(chosen);
      add_point(chosen, sum_bin);
      ++bin_size;
    }
    return picks;
  }

 private:
  // The next candidate's embedding is fetched from memory while the current one is evaluated.
  void prefetch_row(int64_t p) const {
    const char* row = reinterpret_cast<const char*>(cls_.row(p));
    const int64_t bytes = cls_.d * static_cast<int64_t>(sizeof(float));
    for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(row + off);
  }

  // acc += x (sqeuclid) or u = x/||x|| (cosine) of class position p.
  void add_point(int64_t p, std::vector<double>& acc) const {
    const float* x = cls_.row(p);
    const double scale = cosine_ ? inv_norm_[static_cast<size_t>(p)] : 1.0;
    for (size_t k = 0; k < acc.size(); ++k) acc[k] += scale * x[k];
  }

  // Cost to minimise: ||x - c|| (sqeuclid; monotone in the squared distance, so ties are the same)
  // or -u.w (cosine). Both are 1-Lipschitz in the query point.
  double cost(int64_t p, const std::vector<double>& q) const {
    const float* x = cls_.row(p);
    const int64_t d = cls_.d;
    if (cosine_) {
      return -dot(x, q.data(), d) * inv_norm_[static_cast<size_t>(p)];
    }
    return std::sqrt(squared_distance(x, q.data(), d));
  }

  ClassView cls_;  // a view: the embeddings outlive the selector
  bool cosine_;
  std::vector<double> inv_norm_;
  double max_norm_ = 1.0;  // largest row norm (sqeuclid; unit rows for cosine)
  MemoryBudget::Reservation reservation_;
};

}  // namespace

std::unique_ptr<RoundSelector> make_streaming_selector(const ClassView& cls, GraphCutKernel kernel,
                                                       MemoryBudget& memory) {
  return std::make_unique<StreamingSelector>(cls, kernel, memory);
}

}  // namespace dq::graphcut
