#pragma once
// Seeds for the exact self-search (internal to methods/knn/): each row's k nearest within its own
// balanced k-means cell (clustered_search.cpp), exact distances, and the rows in cell order. The
// seeds bound every row's k-th distance from the first tile on, so the symmetric search's limits
// start tight, and the order puts neighbours in the same blocks, whose local frames keep the tiles'
// error small; the lists are the same, byte for byte.
#include <cstdint>
#include <vector>

#include "core/memory_budget.h"
#include "methods/knn/internal/lists.h"
#include "methods/knn/search.h"

namespace dq::detail {

struct SeedLists {
  MemoryBudget::Reservation reservation;
  int64_t k = 0;
  std::vector<Neighbour> best;  // rows x k, ascending by (distance, row); the first held[i] are set
  std::vector<int32_t> held;
  std::vector<int64_t> order;   // the rows cell by cell: neighbours close together (the symmetric search's order)
};
SeedLists cell_seeds(RowMatrix z, int64_t k, Nomination nomination, uint64_t tile_bytes, MemoryBudget& memory);

}  // namespace dq::detail
