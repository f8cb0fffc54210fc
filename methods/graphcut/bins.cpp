#include "methods/graphcut/graphcut.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "methods/graphcut/internal/round_selector.h"

namespace dq {

GraphCutKernel parse_graphcut_kernel(const std::string& name) {
  if (name == "neg_sqeuclid") return GraphCutKernel::NegSqEuclid;
  if (name == "cosine_affine") return GraphCutKernel::CosineAffine;
  throw Error(fmt::format("unknown GraphCut kernel '{}' (expected neg_sqeuclid|cosine_affine)", name));
}

GreedyMode parse_greedy_mode(const std::string& name) {
  if (name == "naive") return GreedyMode::Naive;
  if (name == "memo") return GreedyMode::Memo;
  if (name == "streaming") return GreedyMode::Streaming;
  throw Error(fmt::format("unknown GraphCut mode '{}' (expected naive|memo|streaming)", name));
}

const char* kernel_name(GraphCutKernel kernel) {
  return kernel == GraphCutKernel::NegSqEuclid ? "neg_sqeuclid" : "cosine_affine";
}

const char* mode_name(GreedyMode mode) {
  switch (mode) {
    case GreedyMode::Naive: return "naive";
    case GreedyMode::Memo: return "memo";
    case GreedyMode::Streaming: return "streaming";
  }
  return "?";
}

std::string BinParams::canonical() const {
  return fmt::format("bins={},kernel={},lambda=1,mode={}", bins, kernel_name(kernel), mode_name(mode));
}

std::vector<int64_t> graphcut_bin_sizes(int64_t m, int64_t bins) {
  DQ_ASSERT(m >= 0 && bins >= 1, "bin sizes need m >= 0 and at least one bin");
  std::vector<int64_t> sizes(static_cast<size_t>(bins), 0);
  int64_t remaining = m;
  for (int64_t b = 0; b + 1 < bins; ++b) {
    const int64_t left = bins - b;
    const int64_t size = (2 * remaining + left) / (2 * left);  // round(remaining / left), half up
    sizes[static_cast<size_t>(b)] = size;
    remaining -= size;
  }
  sizes.back() = remaining;
  return sizes;
}

ClassBins generate_graphcut_bins(const ClassView& cls, const BinParams& params, MemoryBudget& memory) {
  const int64_t m = cls.size();
  const std::vector<int64_t> sizes = graphcut_bin_sizes(m, params.bins);
  ClassBins bins(sizes.size());
  std::vector<int64_t> pool(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) pool[static_cast<size_t>(i)] = i;

  if (params.bins > 1 && m > 0) {
    std::unique_ptr<graphcut::RoundSelector> selector =
        params.mode == GreedyMode::Streaming
            ? graphcut::make_streaming_selector(cls, params.kernel, memory)
            : graphcut::make_dense_selector(cls, params.kernel, params.mode == GreedyMode::Naive, memory);
    std::vector<char> used(static_cast<size_t>(m), 0);
    for (size_t b = 0; b + 1 < sizes.size(); ++b) {
      bins[b] = selector->select_round(pool, sizes[b]);
      for (int64_t p : bins[b]) used[static_cast<size_t>(p)] = 1;
      std::erase_if(pool, [&](int64_t p) { return used[static_cast<size_t>(p)] != 0; });
    }
  }
  bins.back() = std::move(pool);
  return bins;
}

}  // namespace dq
