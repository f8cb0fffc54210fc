#pragma once
// Large groups of exact duplicates, searched once (internal to methods/knn/; duplicate_reduction.cpp).
//
// Every search ranks by (exact distance, row index). Rows of one duplicate group (methods/
// duplicate_rows.h: equal as float values) are at distance 0 from each other and at one and the same
// distance from any other row, so:
//   - a row of a group of m > k rows lists the k lowest-index other rows of its group (distance 0);
//   - a row outside the group can list only the group's k lowest-index rows (the others tie with them
//     at a higher index);
//   - lambda_C's `pairs` smallest distances between groups (every row pair counted) are the same when
//     each group keeps at least `pairs` rows: a distance reached through a group pair with fewer than
//     `pairs` row pairs keeps its count (both groups are whole), one reached through a larger group
//     pair has at least `pairs` row pairs either way.
// So an exact search over the rows of each group with rank < max(k + 1, pairs) gives the whole class's
// lists for those rows and its lambda_C exactly, and the other rows' lists follow from their groups
// (graph.cpp uses it for the exact and the clustered search; a FAISS index is trained on all rows, as
// IVF needs at least as many rows as cells). Without
// it a group of m copies makes the exact search measure about m^2 pairs at distance 0 (each copy's
// candidates are the whole group): 10,000 copies of one row among 20,000 x 64 rows took 2.1 s
// against 0.27 s for as many distinct rows.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/memory_budget.h"
#include "methods/duplicate_rows.h"
#include "methods/knn/search.h"

namespace dq::detail {

struct DuplicateReduction {
  int64_t rows = 0;                 // the class's rows
  int64_t k = 0;                    // the lists' k
  std::vector<int64_t> kept;        // the rows searched (class row indices, ascending)
  std::unique_ptr<float[]> values;  // their values, kept.size() x d
  int64_t d = 0;
  std::vector<int32_t> group;       // per class row: its group's first row
  DuplicateGroups searched_groups;  // the kept rows' groups, as kept rows (each group's first row is kept)
  std::vector<int32_t> first;       // per class row that starts a group of more than `keep` rows (else -1):
                                    // offset into `lowest`, which holds that group's k lowest rows
  std::vector<int32_t> lowest;
  int64_t duplicates = 0;           // rows equal to a lower-index row (the whole class)
  MemoryBudget::Reservation reservation;
  RowMatrix matrix() const { return RowMatrix{values.get(), static_cast<int64_t>(kept.size()), d}; }
};

// nullopt when no duplicate group of the (finite) rows has more than keep = max(k + 1, pairs) rows, or
// when leaving their other rows out would save too little to pay for the copy of the rest (fewer than
// a sixteenth of the rows left out, and fewer than 16 n pairs of copies inside the large groups).
// `groups`: z's duplicate groups (finite_duplicate_groups).
std::optional<DuplicateReduction> reduce_duplicates(RowMatrix z, const DuplicateGroups& groups, int64_t k, int64_t pairs,
                                                    MemoryBudget& memory);

// The class's lists (rows x reduced.k) from the search over the kept rows: their lists with indices
// mapped back, every other row's list its group's k lowest rows at distance 0.
NeighbourLists expand_lists(const DuplicateReduction& reduction, const NeighbourLists& reduced, MemoryBudget& memory,
                            MemoryBudget::Reservation& reservation);

}  // namespace dq::detail
