#pragma once
// Internal to the GraphCut bin generation: one greedy round ("fill one bin from this pool").
//
// GraphCut with lambda = 1 over the round's pool V and the partial bin S:
//   gain(x | S) = sum_{j in V} s(j, x) - 2 * sum_{p in S} s(p, x),   x in V \ S,
// and each step takes the argmax, ties to the lowest class position.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/memory_budget.h"
#include "methods/graphcut/graphcut.h"

namespace dq::graphcut {

class RoundSelector {
 public:
  virtual ~RoundSelector() = default;
  // `pool`: class positions, ascending. Returns `count` of them in pick order (count <= |pool|,
  // and 2*(count-1) < |pool|, which every bin size of graphcut_bin_sizes satisfies).
  virtual std::vector<int64_t> select_round(std::span<const int64_t> pool, int64_t count) = 0;
};

// naive / memo: builds the dense M x M similarity once (reserving 4*M^2 bytes first).
std::unique_ptr<RoundSelector> make_dense_selector(const ClassView& cls, GraphCutKernel kernel, bool naive,
                                                   MemoryBudget& memory);
// streaming: no M x M buffer.
std::unique_ptr<RoundSelector> make_streaming_selector(const ClassView& cls, GraphCutKernel kernel,
                                                       MemoryBudget& memory);

}  // namespace dq::graphcut
