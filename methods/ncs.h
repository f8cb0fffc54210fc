#pragma once
// Neighbour-aware coreset selection (BGFDQ's NCS): draw a sample uniformly from the pool, then take
// each of its K nearest neighbours still in the pool out of it with probability exp(-ratio*alpha*k)
// (k = 1..K by rank), so that later draws land away from what is already covered. When the pool runs
// dry before the budget is met, the removed samples go back into it (a "refill").
#include <cstdint>
#include <functional>
#include <span>
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
  int64_t rows_listed = 0;  // neighbour_aware_selection_on_demand: rows whose lists it asked for
};

// Probability that the k-th nearest neighbour (k >= 1) of a pick leaves the pool.
double ncs_removal_probability(double ratio, double alpha, int64_t k);

// Picks `count` (<= lists.n) rows. Picks draw from Rng(seed) exactly as Random does (a partial
// Fisher-Yates over the pool) and removals from a second stream, so with no removals (alpha large)
// the picks equal Random's for the same seed.
NcsResult neighbour_aware_selection(const NeighbourLists& lists, int64_t count, double ratio, double alpha, uint64_t seed);

// The lists of some rows of the class (rows.size() x k, class-local ids, ascending distance).
using NeighboursOfRows = std::function<NeighbourLists(std::span<const int64_t> rows)>;

// The same rule for a class of m rows whose lists are asked for only where a pick needs them: picks
// follow a seeded shuffle of the class (the next pick is its first row still in the pool; after a
// refill, a fresh shuffle of the refilled rows), which draws uniformly from the pool as the other
// form does, but lets the lists of the next `batch` rows of the order still in the pool be asked for
// together (a removal may take some of them out before their turn: rows_listed counts them all).
// Removals draw from the same stream as the other form; the picks differ from it for the same seed.
// NCS reads only its picks' lists (paper Eq. 5), so with M rows and T picks it needs about T of the M
// lists, not all of them.
NcsResult neighbour_aware_selection_on_demand(int64_t m, int64_t k, const NeighboursOfRows& neighbours, int64_t count,
                                              double ratio, double alpha, uint64_t seed, int64_t batch);

}  // namespace dq
