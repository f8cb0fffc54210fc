#pragma once
// Neighbour-aware coreset selection (BGFDQ's NCS): draw a sample uniformly from the pool, then take
// each of its K nearest neighbours still in the pool out of it with probability exp(-ratio*alpha*k)
// (k = 1..K by rank), so that later draws land away from what is already covered. When the pool runs
// dry before the budget is met, the removed samples go back into it (a "refill").
#include <cstdint>
#include <vector>

#include "methods/knn/search.h"

namespace dq {

struct NcsResult {
  std::vector<int64_t> picks;  // class-local rows in pick order: the priority order SPD consumes
  int64_t refills = 0;         // times the pool ran dry and was refilled with the removed samples
  int64_t removals = 0;        // neighbours taken out of the pool in total
  // Per pick i: refills before it was drawn, and removals up to and including its own. SPD stores a
  // prefix of the picks; these give the counts of that prefix.
  std::vector<int64_t> refills_before, removals_through;
};

// Probability that the k-th nearest neighbour (k >= 1) of a pick leaves the pool.
double ncs_removal_probability(double ratio, double alpha, int64_t k);

// Picks `count` (<= lists.n) rows. Picks draw from Rng(seed) exactly as Random does (a partial
// Fisher-Yates over the pool) and removals from a second stream, so with no removals (alpha large)
// the picks equal Random's for the same seed.
NcsResult neighbour_aware_selection(const NeighbourLists& lists, int64_t count, double ratio, double alpha, uint64_t seed);

}  // namespace dq
