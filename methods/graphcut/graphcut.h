#pragma once
// DQ's bin generation (Zhou et al., ICCV 2023): per class, N disjoint bins carved one after the
// other from the remaining pool by greedy GraphCut maximisation; the last bin is what is left.
// Shared by DQ, ADQ and DQAS-approx. Three greedy modes with identical picks:
//   naive     - dense M x M float32 similarity, the sum over the partial bin recomputed at every
//               step (the released code's NaiveGreedy, O(M^3) time, 4*M^2 bytes);
//   memo      - the same matrix, running sums (O(M^2) time, 4*M^2 bytes);
//   streaming - no matrix: each greedy step is an exact nearest-point query around a moving centre,
//               answered with lower bounds that survive the centre's moves (O(M*d) memory).
// Docs: methods/docs/dq_family.md.
#include <cstdint>
#include <string>
#include <vector>

#include "methods/method.h"

namespace dq {

enum class GraphCutKernel {
  NegSqEuclid,   // s(x,y) = -||x-y||^2: the DQ paper's form, the default
  CosineAffine,  // s(x,y) = 0.5 + 0.5*cos(x,y): the released code's form (cos with a zero vector = 0)
};
enum class GreedyMode { Naive, Memo, Streaming };

GraphCutKernel parse_graphcut_kernel(const std::string& name);  // names as in kernel_name
GreedyMode parse_greedy_mode(const std::string& name);
const char* kernel_name(GraphCutKernel kernel);  // "neg_sqeuclid" | "cosine_affine"
const char* mode_name(GreedyMode mode);          // "naive" | "memo" | "streaming"

struct BinParams {
  int64_t bins = 10;
  GraphCutKernel kernel = GraphCutKernel::NegSqEuclid;
  GreedyMode mode = GreedyMode::Naive;
  std::string canonical() const;  // "bins=10,kernel=neg_sqeuclid,lambda=1,mode=naive"
};

// Bins of one class as positions into the ClassView (0..M-1): bins in generation order, positions
// in pick order inside each GraphCut bin; the last bin (the remainder) is in ascending order.
using ClassBins = std::vector<std::vector<int64_t>>;

// Sizes of the bins of a class of m samples: bin b < N-1 takes round(remaining / (N - b)) (half
// up), the last bin takes the rest. This is the released code's round(frac_b * |avail in class|)
// with frac_b = 1/(N-b), evaluated per class.
std::vector<int64_t> graphcut_bin_sizes(int64_t m, int64_t bins);

// Runs the greedy (no cache). Dense modes reserve 4*M^2 bytes first: over budget throws
// dq::OutOfMemory before any work. Embeddings must be finite (core/embedding_check.h checks them where
// they enter).
ClassBins generate_graphcut_bins(const ClassView& cls, const BinParams& params, MemoryBudget& memory);

struct BinsResult {
  ClassBins bins;
  bool from_cache = false;
};

// generate_graphcut_bins behind the bin cache (ctx.resources.cache_dir/dq_bins, keyed by
// ctx.resources.embedding_key (the embeddings' content hash), class label, size, params and
// methods/graphcut/'s code identity; skipped when either is empty), timed as the sub-stage
// "bin_generation". The bins are reported to ctx.resources.artefact (kind "bins") for the cell's record.
BinsResult graphcut_bins_for_class(const ClassView& cls, const BinParams& params, const SelectContext& ctx);

}  // namespace dq
