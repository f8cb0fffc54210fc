#pragma once
// Candidate nomination (internal to methods/knn/): the number formats a distance tile may be computed
// in, and the proven error bound that lets such a tile nominate candidates which the exact re-rank
// then measures, so that the lists are byte-identical whatever the format. The proof is in
// nomination.cpp; the CPU bf16 kernel in bf16_tiles.cpp; the LibTorch (any device) nominator in
// torch_nominator.cpp.
#include <cstdint>
#include <string>

#include "methods/knn/search.h"

namespace dq::detail {

// How a nominator computes T_ij ~ -2 <c_i, c_j> from float rows c: inputs rounded to a narrower
// format (unit roundoff input_unit; values below input_floor in magnitude may become 0), products
// summed with unit roundoff accumulate_unit per addition in any order, the sum rounded once more to an
// output format (output_unit; output_floor likewise).
struct NominationFormat {
  const char* name = "fp32";
  double input_unit = 0, input_floor = 0;
  double accumulate_unit = 0x1p-24;
  double output_unit = 0, output_floor = 0;
};
// The fp32 SGEMM (OpenBLAS or any BLAS: any summation order, with or without FMA).
NominationFormat fp32_cpu_format();
// Our AVX-512 BF16 kernel: VCVTNE2PS2BF16 inputs (round to nearest even, denormals flushed),
// VDPBF16PS products (exact in fp32) accumulated in fp32 (round to nearest even, denormals flushed).
NominationFormat bf16_cpu_format();

// |T_ij + 2 <c_i, c_j>| plus every other rounding between the tile and exact_sqdist (centring, norms,
// the float comparisons of the filters) is at most s_i + s_j with the per-row slack
//   s_i = delta * n_i + per_root * sqrt(n_i) + per_row,   n_i = |c_i|^2.
struct NominationBound {
  double delta = 0;
  double per_root = 0;
  double per_row = 0;
  double slack(double norm) const;  // s_i, rounded up
};
NominationBound nomination_bound(const NominationFormat& format, int64_t d);

// The largest squared norm for which the formats' bound is proven (no overflow anywhere in the tile
// or the filters): rows beyond it are nominated in fp32 (whose bound the existing search has always
// used).
inline constexpr double kNominationMaxNorm = 0x1p100;
// The largest d for which the bound is useful (gamma_d stays below 1/16).
inline constexpr int64_t kNominationMaxDim = int64_t{1} << 20;

// True when this CPU runs the bf16 kernel (AVX-512 BF16 with the OS saving its registers).
bool cpu_has_bf16_kernel();

// The format a search uses for `requested` on rows of dimension d whose largest squared norm (after
// centring) is max_norm: bf16 where asked for (or Auto) and possible, else fp32. `why` says why
// bf16 was refused (empty when it was used or not asked for).
Nomination resolve_nomination(Nomination requested, int64_t d, double max_norm, std::string* why = nullptr);
const char* nomination_name(Nomination n);

}  // namespace dq::detail
