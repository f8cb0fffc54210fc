#include "methods/ncs.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"

namespace dq {

double ncs_removal_probability(double ratio, double alpha, int64_t k) {
  return std::exp(-ratio * alpha * static_cast<double>(k));
}

namespace {

// The pool both pick orders share: one array in three regions, order[0, selected) the picks,
// order[selected, pool_end) the pool, order[pool_end, m) the samples removed since the last refill;
// pos[] is the inverse permutation, so membership tests, picks and removals are all O(1).
class Pool {
 public:
  Pool(int64_t m, int64_t k, double ratio, double alpha, uint64_t seed)
      : order_(static_cast<size_t>(m)), pos_(static_cast<size_t>(m)), p_(static_cast<size_t>(k)),
        removal_rng_(derive_seed(seed, "ncs-removals")), pool_end_(m) {
    std::iota(order_.begin(), order_.end(), 0);
    std::iota(pos_.begin(), pos_.end(), 0);
    for (int64_t t = 0; t < k; ++t) p_[static_cast<size_t>(t)] = ncs_removal_probability(ratio, alpha, t + 1);
  }
  int64_t selected() const { return selected_; }
  int64_t pool_end() const { return pool_end_; }
  int64_t at(int64_t slot) const { return order_[static_cast<size_t>(slot)]; }
  bool in_pool(int64_t row) const {
    const int64_t a = pos_[static_cast<size_t>(row)];
    return a >= selected_ && a < pool_end_;
  }
  // Exhausted: everything not yet picked (the removed region) goes back into the pool.
  bool refill_if_empty(NcsResult& out) {
    if (pool_end_ != selected_) return false;
    pool_end_ = static_cast<int64_t>(order_.size());
    ++out.refills;
    return true;
  }
  // Picks the row in `slot` (a pool slot), then draws the removals of its neighbours (ids of `k` rows,
  // ascending distance, -1 past the last).
  void pick(int64_t slot, const int32_t* neighbours, NcsResult& out) {
    swap_slots(selected_, slot);
    const int64_t x = order_[static_cast<size_t>(selected_++)];
    out.picks.push_back(x);
    out.refills_before.push_back(out.refills);
    for (size_t t = 0; t < p_.size(); ++t) {
      const int32_t nb = neighbours[t];
      if (nb < 0) break;  // fewer than k neighbours in this class
      if (!in_pool(nb)) continue;  // picked already, or removed already
      if (p_[t] <= 0) continue;    // no draw at all when removal is impossible
      if (removal_rng_.uniform01() < p_[t]) {
        swap_slots(pos_[static_cast<size_t>(nb)], --pool_end_);
        ++out.removals;
      }
    }
    out.removals_through.push_back(out.removals);
  }
  int64_t slot_of(int64_t row) const { return pos_[static_cast<size_t>(row)]; }

 private:
  void swap_slots(int64_t a, int64_t b) {
    std::swap(order_[static_cast<size_t>(a)], order_[static_cast<size_t>(b)]);
    pos_[static_cast<size_t>(order_[static_cast<size_t>(a)])] = a;
    pos_[static_cast<size_t>(order_[static_cast<size_t>(b)])] = b;
  }
  std::vector<int64_t> order_, pos_;
  std::vector<double> p_;
  Rng removal_rng_;
  int64_t selected_ = 0, pool_end_;
};

}  // namespace

NcsResult neighbour_aware_selection(const NeighbourLists& lists, int64_t count, double ratio, double alpha, uint64_t seed) {
  const int64_t m = lists.n;
  DQ_ASSERT(count >= 0 && count <= m, "NCS budget must be within the class size");
  Pool pool(m, lists.k, ratio, alpha, seed);
  Rng pick_rng(seed);
  NcsResult out;
  out.picks.reserve(static_cast<size_t>(count));
  while (pool.selected() < count) {
    pool.refill_if_empty(out);
    const int64_t u =
        pool.selected() + static_cast<int64_t>(pick_rng.uniform_below(static_cast<uint64_t>(pool.pool_end() - pool.selected())));
    pool.pick(u, lists.ids_of(pool.at(u)), out);
  }
  return out;
}

NcsResult neighbour_aware_selection_on_demand(int64_t m, int64_t k, const NeighboursOfRows& neighbours, int64_t count,
                                              double ratio, double alpha, uint64_t seed, int64_t batch) {
  DQ_ASSERT(count >= 0 && count <= m, "NCS budget must be within the class size");
  DQ_ASSERT(batch >= 1 && k >= 0, "NCS on demand: a batch of at least one row");
  Pool pool(m, k, ratio, alpha, seed);
  // The pick order of an epoch (the class, then the removed samples at each refill): a seeded shuffle
  // of its rows; the next pick is its first row still in the pool.
  Rng order_rng(derive_seed(seed, "ncs-pick-order"));
  std::vector<int64_t> epoch(static_cast<size_t>(m));
  std::iota(epoch.begin(), epoch.end(), 0);
  auto shuffle = [&] {
    for (size_t i = epoch.size(); i > 1; --i)
      std::swap(epoch[i - 1], epoch[static_cast<size_t>(order_rng.uniform_below(static_cast<uint64_t>(i)))]);
  };
  shuffle();
  size_t cursor = 0;
  std::vector<int32_t> ids(static_cast<size_t>(m * k), -1);  // rows' lists, once fetched
  std::vector<char> fetched(static_cast<size_t>(m), 0);
  std::vector<int64_t> wanted;
  NcsResult out;
  out.picks.reserve(static_cast<size_t>(count));
  while (pool.selected() < count) {
    if (pool.refill_if_empty(out)) {
      epoch.clear();
      for (int64_t s = pool.selected(); s < pool.pool_end(); ++s) epoch.push_back(pool.at(s));
      std::sort(epoch.begin(), epoch.end());  // the shuffle alone decides the order, not the slots
      shuffle();
      cursor = 0;
    }
    while (!pool.in_pool(epoch[cursor])) ++cursor;  // the pool is not empty: some row of the epoch is in it
    const int64_t x = epoch[cursor];
    if (!fetched[static_cast<size_t>(x)]) {
      // The next `batch` rows of the order still in the pool without lists: the picks to come, unless
      // a removal takes them out first.
      wanted.clear();
      for (size_t c = cursor; c < epoch.size() && static_cast<int64_t>(wanted.size()) < batch; ++c) {
        const int64_t r = epoch[c];
        if (pool.in_pool(r) && !fetched[static_cast<size_t>(r)]) wanted.push_back(r);
      }
      const NeighbourLists got = neighbours(wanted);
      DQ_ASSERT(got.n == static_cast<int64_t>(wanted.size()) && got.k == k, "lists of other rows");
      for (size_t w = 0; w < wanted.size(); ++w) {
        std::copy_n(got.ids_of(static_cast<int64_t>(w)), k, ids.data() + wanted[w] * k);
        fetched[static_cast<size_t>(wanted[w])] = 1;
      }
      out.rows_listed += static_cast<int64_t>(wanted.size());
    }
    pool.pick(pool.slot_of(x), ids.data() + x * k, out);
  }
  return out;
}

}  // namespace dq
