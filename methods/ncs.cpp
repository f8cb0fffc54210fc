#include "methods/ncs.h"

#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"

namespace dq {

double ncs_removal_probability(double ratio, double alpha, int64_t k) {
  return std::exp(-ratio * alpha * static_cast<double>(k));
}

NcsResult neighbour_aware_selection(const NeighbourLists& lists, int64_t count, double ratio, double alpha, uint64_t seed) {
  const int64_t m = lists.n;
  DQ_ASSERT(count >= 0 && count <= m, "NCS budget must be within the class size");
  // One array in three regions: order[0, selected) are the picks, order[selected, pool_end) the pool,
  // order[pool_end, m) the samples removed since the last refill. pos[] is the inverse permutation,
  // so membership tests, picks and removals are all O(1).
  std::vector<int64_t> order(static_cast<size_t>(m)), pos(static_cast<size_t>(m));
  std::iota(order.begin(), order.end(), 0);
  std::iota(pos.begin(), pos.end(), 0);
  auto swap_slots = [&](int64_t a, int64_t b) {
    std::swap(order[static_cast<size_t>(a)], order[static_cast<size_t>(b)]);
    pos[static_cast<size_t>(order[static_cast<size_t>(a)])] = a;
    pos[static_cast<size_t>(order[static_cast<size_t>(b)])] = b;
  };
  std::vector<double> p(static_cast<size_t>(lists.k));
  for (int64_t t = 0; t < lists.k; ++t) p[static_cast<size_t>(t)] = ncs_removal_probability(ratio, alpha, t + 1);

  Rng pick_rng(seed);
  Rng removal_rng(derive_seed(seed, "ncs-removals"));
  NcsResult out;
  out.picks.reserve(static_cast<size_t>(count));
  int64_t selected = 0, pool_end = m;
  while (selected < count) {
    if (pool_end == selected) {  // exhausted: everything not yet picked is in the removed region
      pool_end = m;
      ++out.refills;
    }
    const int64_t u = selected + static_cast<int64_t>(pick_rng.uniform_below(static_cast<uint64_t>(pool_end - selected)));
    swap_slots(selected, u);
    const int64_t x = order[static_cast<size_t>(selected++)];
    out.picks.push_back(x);
    out.refills_before.push_back(out.refills);
    const int32_t* neighbours = lists.ids_of(x);
    for (int64_t t = 0; t < lists.k; ++t) {
      const int32_t nb = neighbours[t];
      if (nb < 0) break;  // fewer than k neighbours in this class
      const int64_t at = pos[static_cast<size_t>(nb)];
      if (at < selected || at >= pool_end) continue;  // picked already, or removed already
      if (p[static_cast<size_t>(t)] <= 0) continue;   // no draw at all when removal is impossible
      if (removal_rng.uniform01() < p[static_cast<size_t>(t)]) {
        swap_slots(at, --pool_end);
        ++out.removals;
      }
    }
    out.removals_through.push_back(out.removals);
  }
  return out;
}

}  // namespace dq
