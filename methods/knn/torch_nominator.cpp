// The LibTorch nominator (methods/knn/device_search.h): exact neighbour identification with distance
// tiles, top-k and candidate masks on any LibTorch device and dtype, re-ranked exactly on the host by
// the same code as every CPU search, so the graph and lambda_C equal exact_self_knn's byte for byte.
// Linked with dq_models (it includes LibTorch); it installs itself into the LibTorch-free hook.
//
// Per block of R query rows (R x M floats within the tile budget, with their temporaries):
//   G      = -2 C_R C^T in the dtype (fp32 or bf16 inputs, fp32 accumulation), as float32
//   upper  = G + (n_j + s_j), the row's own column +inf;  h = its k-th smallest (top-k)
//   thr    = h + 2 s_i, in double, rounded up to float (the one-sided filter, candidate_filter.cpp)
//   mask   = G + (n_j - s_j) <= thr
// The mask's indices come back (in chunks of bounded size) and each row's candidates are ranked by
// detail::rank_candidates. lambda_C: over the block's pairs (i, j > i) in different duplicate groups,
// the `pairs`-th smallest upper bound n_i + n_j + s_i + s_j + G (double) bounds the smallest pair
// distances from above; with the 50th exact pair distance held so far, the smaller of the two is
// the limit, and the pairs whose lower bound passes it come back and are measured exactly.
// nomination.cpp proves the margins for the device formats below: accumulation with unit roundoff
// 2^-20 per addition (four bits short of fp32, which covers tensor cores that align their products
// by truncation; Fasi et al., "Numerical behavior of NVIDIA tensor cores", PeerJ CS 2021), bf16
// inputs and a bf16 output (torch's bf16 matmul returns bf16), denormals flushed anywhere. TF32 and
// cuBLAS's reduced-precision bf16 reductions are switched off while the search runs, since they
// would break those assumptions.
#include <fmt/format.h>
#include <omp.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/error.h"
#include "methods/knn/device_search.h"
#include "methods/knn/internal/lists.h"
#include "methods/knn/internal/nomination.h"
#include "methods/knn/internal/prepared_rows.h"
#include "methods/knn/internal/rerank.h"

namespace dq {
namespace {

constexpr double kEta = 0x1p-126;

struct DeviceFormat {
  torch::Dtype dtype;
  detail::NominationFormat format;
};

DeviceFormat device_format(const std::string& dtype, const torch::Device& device) {
  const std::string t = dtype == "auto" ? (device.is_cuda() ? "bfloat16" : "float32") : dtype;
  if (t == "float32")
    return {torch::kFloat32, {.name = "float32", .input_floor = kEta, .accumulate_unit = 0x1p-20, .output_floor = kEta}};
  if (t == "bfloat16")
    return {torch::kBFloat16,
            {.name = "bfloat16", .input_unit = 0x1p-8, .input_floor = kEta, .accumulate_unit = 0x1p-20,
             .output_unit = 0x1p-8, .output_floor = kEta}};
  if (t == "float64")
    return {torch::kFloat64,
            {.name = "float64", .input_floor = kEta, .accumulate_unit = 0x1p-50, .output_unit = 0x1p-24, .output_floor = kEta}};
  throw Error(fmt::format("device KNN: dtype '{}' is not supported (float32, bfloat16, float64 or auto; float16's "
                          "products overflow its range as a matrix product's output)",
                          dtype));
}

// Reduced-precision cuBLAS reductions (LibTorch 2.x has the switch; 1.13 does not): off while alive.
template <class Context>
auto disallow_bf16_reduction(Context& ctx, int) -> decltype(ctx.allowBF16ReductionCuBLAS(), std::function<void()>()) {
  auto saved = ctx.allowBF16ReductionCuBLAS();
  ctx.setAllowBF16ReductionCuBLAS(false);
  return [&ctx, saved] {
    if constexpr (std::is_same_v<decltype(saved), bool>) {
      ctx.setAllowBF16ReductionCuBLAS(saved);
    } else {
      const auto code = static_cast<int>(saved);  // 0: reduced precision with split-K, 1: split-K only, 2: neither
      ctx.setAllowBF16ReductionCuBLAS(code == 0, code != 2);
    }
  };
}
template <class Context>
std::function<void()> disallow_bf16_reduction(Context&, long) {
  return [] {};
}

// TF32 and reduced-precision reductions off for the search's lifetime.
class ExactMatmuls {
 public:
  ExactMatmuls() : ctx_(at::globalContext()), tf32_(ctx_.allowTF32CuBLAS()), precision_(ctx_.float32MatmulPrecision()) {
    ctx_.setAllowTF32CuBLAS(false);
    ctx_.setFloat32MatmulPrecision("highest");  // the string form: LibTorch 2.x has no enum overload
    restore_bf16_ = disallow_bf16_reduction(ctx_, 0);
  }
  ~ExactMatmuls() {
    ctx_.setAllowTF32CuBLAS(tf32_);
    ctx_.setFloat32MatmulPrecision(precision_ == at::Float32MatmulPrecision::HIGHEST ? "highest"
                                   : precision_ == at::Float32MatmulPrecision::HIGH  ? "high"
                                                                                     : "medium");
    restore_bf16_();
  }
  ExactMatmuls(const ExactMatmuls&) = delete;
  ExactMatmuls& operator=(const ExactMatmuls&) = delete;

 private:
  at::Context& ctx_;
  bool tf32_;
  at::Float32MatmulPrecision precision_;
  std::function<void()> restore_bf16_;
};

torch::Tensor host_vector(const float* data, int64_t n, const torch::Device& device) {
  return torch::from_blob(const_cast<float*>(data), {n}, torch::kFloat32).to(device);
}

// Calls fn(first_row, rows, indices) for the true entries of `mask` (rows x M, bool) in row chunks
// whose entries stay within `cap` (a single row may exceed it); indices are (count x 2) int64 on the
// host, row-major, so each row's columns ascend.
template <class Fn>
void for_each_true(const torch::Tensor& mask, int64_t cap, Fn&& fn) {
  const torch::Tensor counts = mask.sum(1).to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t* c = counts.data_ptr<int64_t>();
  const int64_t rows = mask.size(0);
  for (int64_t a = 0; a < rows;) {
    int64_t b = a, total = 0;
    while (b < rows && (b == a || total + c[b] <= cap)) total += c[b++];
    if (total > 0) {
      const torch::Tensor idx = mask.narrow(0, a, b - a).nonzero().to(torch::kCPU).contiguous();
      fn(a, b - a, idx);
    }
    a = b;
  }
}

SelfKnnResult torch_exact_self_knn(RowMatrix z, int64_t pairs, const ExactSearchOptions& o, const DeviceSearchOptions& dev,
                                   MemoryBudget& memory) {
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(dev.device);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("device KNN: '{}' is not a LibTorch device ({})", dev.device, e.what_without_backtrace()));
  }
  if (device.is_cuda() && (!torch::cuda::is_available() ||
                           (device.has_index() && device.index() >= static_cast<int64_t>(torch::cuda::device_count()))))
    throw Error(fmt::format("device KNN: device '{}' is not available in this LibTorch build or machine", dev.device));
  const DeviceFormat f = device_format(dev.dtype, device);
  const int64_t n = z.rows, d = z.cols;
  const DuplicateGroups groups = detail::finite_duplicate_groups(z);
  const std::vector<float> mean = detail::column_mean(z);
  const detail::PreparedRows prepared = detail::prepare_rows_for(z, mean.data(), f.format, memory, "knn centred rows (device)");
  const float max_norm = n > 0 ? *std::max_element(prepared.norm_plus.get(), prepared.norm_plus.get() + n) : 0.0f;
  // Where the bound cannot hold, the CPU search (same lists) runs instead.
  if (d > detail::kNominationMaxDim || !(max_norm <= detail::kNominationMaxNorm) || n >= std::numeric_limits<int32_t>::max())
    return exact_self_knn(z, pairs, o, memory);

  SelfKnnResult out;
  out.duplicates = groups.duplicates;
  out.nomination = f.dtype == torch::kBFloat16 ? Nomination::Bf16 : Nomination::Fp32;
  MemoryBudget::Reservation lists_reservation;  // held while searching, as the CPU searches do
  out.lists = detail::empty_lists(n, o.k, memory, lists_reservation);
  if (n == 0) return out;
  const int64_t kk = std::min<int64_t>(o.k, n - 1);
  // Per tile element: G (4), upper and lower (8), masks (2), and for lambda_C two doubles (16).
  constexpr int64_t kBytesPerElement = 32;
  const int64_t block = std::clamp<int64_t>(static_cast<int64_t>(o.tile_bytes / static_cast<uint64_t>(n * kBytesPerElement)), 1, n);
  auto tile_reservation = memory.reserve(static_cast<uint64_t>(block * n * kBytesPerElement), "knn device tiles");
  const int64_t cap = std::max<int64_t>(n, static_cast<int64_t>(o.tile_bytes / 16));

  torch::NoGradGuard no_grad;
  const ExactMatmuls exact_matmuls;
  const torch::Tensor c =
      torch::from_blob(prepared.centred.get(), {n, d}, torch::kFloat32).to(device).to(f.dtype).contiguous();
  const torch::Tensor np = host_vector(prepared.norm_plus.get(), n, device);
  const torch::Tensor nm = host_vector(prepared.norm_minus.get(), n, device);
  const torch::Tensor slack = host_vector(prepared.slack.get(), n, device).to(torch::kFloat64);
  const torch::Tensor np64 = np.to(torch::kFloat64), nm64 = nm.to(torch::kFloat64);
  const torch::Tensor group =
      torch::from_blob(const_cast<int32_t*>(groups.group.data()), {n}, torch::kInt32).to(device);
  const torch::Tensor columns = torch::arange(n, torch::TensorOptions().dtype(torch::kInt64).device(device));
  const double inf = std::numeric_limits<double>::infinity();

  detail::SmallestPairs pair_set;
  pair_set.capacity = static_cast<size_t>(pairs);
  std::vector<detail::TopK> tops(static_cast<size_t>(omp_get_max_threads()));
  std::vector<detail::RerankScratch> scratch(tops.size());
  std::vector<std::vector<int32_t>> candidates(tops.size());

  for (int64_t r0 = 0; r0 < n; r0 += block) {
    const int64_t nr = std::min(block, n - r0);
    const torch::Tensor rows = columns.narrow(0, r0, nr);
    const torch::Tensor local = torch::arange(nr, rows.options());
    const torch::Tensor g = torch::matmul(c.narrow(0, r0, nr), c.t()).to(torch::kFloat32).mul_(-2.0);
    if (kk > 0) {
      torch::Tensor upper = g + np.unsqueeze(0);
      upper.index_put_({local, rows}, inf);
      const torch::Tensor h = std::get<0>(upper.topk(kk, 1, /*largest=*/false, /*sorted=*/false)).amax(1);
      upper = torch::Tensor();
      const torch::Tensor thr =
          torch::nextafter((h.to(torch::kFloat64) + 2.0 * slack.narrow(0, r0, nr)).to(torch::kFloat32),
                           torch::full({}, inf, h.options()));
      torch::Tensor lower = g + nm.unsqueeze(0);
      lower.index_put_({local, rows}, inf);
      const torch::Tensor mask = lower.le(thr.unsqueeze(1));
      lower = torch::Tensor();
      for_each_true(mask, cap, [&](int64_t first, int64_t count, const torch::Tensor& idx) {
        const int64_t* e = idx.data_ptr<int64_t>();
        const int64_t m = idx.size(0);
        // Row starts within idx (row-major, so each row's entries are contiguous and ascending).
        std::vector<int64_t> start(static_cast<size_t>(count + 1), m);
        for (int64_t t = m - 1; t >= 0; --t) start[static_cast<size_t>(e[2 * t])] = t;
        for (int64_t r = count - 1; r >= 0; --r) start[static_cast<size_t>(r)] = std::min(start[static_cast<size_t>(r)], start[static_cast<size_t>(r + 1)]);
#pragma omp parallel for schedule(dynamic, 16)
        for (int64_t r = 0; r < count; ++r) {
          const auto t = static_cast<size_t>(omp_get_thread_num());
          const int64_t i = r0 + first + r;
          std::vector<int32_t>& cand = candidates[t];
          cand.clear();
          for (int64_t q = start[static_cast<size_t>(r)]; q < start[static_cast<size_t>(r + 1)]; ++q)
            cand.push_back(static_cast<int32_t>(e[2 * q + 1]));
          detail::TopK& top = tops[t];
          top.reset(static_cast<size_t>(kk));
          detail::rank_candidates(z.row(i), z, cand, top, scratch[t]);
          for (size_t s = 0; s < top.best.size(); ++s) {
            out.lists.ids[static_cast<size_t>(i * o.k) + s] = top.best[s].j;
            out.lists.dist[static_cast<size_t>(i * o.k) + s] = static_cast<float>(top.best[s].d);
          }
        }
      });
    }
    if (pairs > 0) {
      const torch::Tensor g64 = g.to(torch::kFloat64);
      const torch::Tensor valid = columns.unsqueeze(0).gt(rows.unsqueeze(1)) &
                                  group.unsqueeze(0).ne(group.narrow(0, r0, nr).unsqueeze(1));
      const torch::Tensor upper = (g64 + np64.unsqueeze(0) + np64.narrow(0, r0, nr).unsqueeze(1)).masked_fill(valid.logical_not(), inf);
      const int64_t take = std::min<int64_t>(pairs, nr * n);
      const double block_limit = std::get<0>(upper.flatten().topk(take, 0, /*largest=*/false)).max().item<double>();
      const double held_limit = pair_set.full() ? pair_set.largest() : inf;
      const double limit = std::min(block_limit, held_limit);
      const torch::Tensor lower = g64 + nm64.unsqueeze(0) + nm64.narrow(0, r0, nr).unsqueeze(1);
      const torch::Tensor mask = valid & lower.le(limit);
      for_each_true(mask, cap, [&](int64_t first, int64_t, const torch::Tensor& idx) {
        const int64_t* e = idx.data_ptr<int64_t>();
        for (int64_t t = 0; t < idx.size(0); ++t) {
          const int64_t i = r0 + first + e[2 * t], j = e[2 * t + 1];
          const double dist = exact_sqdist(z.row(i), z.row(j), d);
          if (dist > 0) pair_set.offer(dist, i, j);
        }
      });
    }
  }
  out.smallest_pairs = detail::SmallestPairs::merged_distances({pair_set}, static_cast<size_t>(pairs));
  return out;
}

[[maybe_unused]] const bool installed = [] {
  set_device_self_search(&torch_exact_self_knn);
  return true;
}();

}  // namespace
}  // namespace dq
