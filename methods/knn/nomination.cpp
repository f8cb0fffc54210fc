// The error bound of candidate nomination: why a distance tile computed in fp32, or in bfloat16 with
// fp32 accumulation, on this CPU or on any LibTorch device, can nominate the candidates of an exact
// search without changing a single list.
//
// Setting. Rows x_i are float; the search subtracts a float mean m and works with c_i = fl(x_i - m)
// (componentwise, one rounding each) and n_i = |c_i|^2 summed in double. A nominator returns a float
// tile T_ij meant to be -2 <c_i, c_j>. The filters (candidate_filter.cpp, symmetric_search.cpp, the
// device filter in torch_nominator.cpp) treat a_ij = n_i + n_j + T_ij as the distance, and every list
// is ranked by E_ij = exact_sqdist(x_i, x_j) (double accumulation). Write u = 2^-24 (fp32 unit
// roundoff), gamma_m(v) = m v / (1 - m v), and eta = 2^-126 (the smallest normal float: a flushed
// denormal errs by less).
//
// Claim: |a_ij - E_ij| <= s_i + s_j with s_i = delta n_i + per_root sqrt(n_i) + per_row
// (nomination_bound below). Proof, term by term:
//  1. Centring. c_i = y_i (1 + theta) componentwise with y_i = x_i - m exactly and |theta| <= u, so
//     |c_i - y_i| <= u' |c_i| with u' = u / (1 - u), and x_i - x_j = y_i - y_j. With A = |c_i - c_j|,
//     B = |y_i - y_j| and S = |c_i| + |c_j|: |A - B| <= u' S and A <= S, hence
//     |A^2 - B^2| <= (2u' + u'^2) S^2 <= 2 (2u' + u'^2)(n_i + n_j).
//  2. Reference and norms. E_ij is B^2 summed in double over d terms (float differences are exact in
//     double, squares have 53-bit rounding): |E_ij - B^2| <= gamma_d(2^-53) B^2, and
//     B^2 <= 2 (1 + u')^2 (n_i + n_j). n_i itself is exact to gamma_d(2^-53) n_i. Both stay below
//     2^-40 (n_i + n_j) for d <= 2^20 (kNominationMaxDim).
//  3. The tile. A^2 = |c_i|^2 + |c_j|^2 - 2 <c_i, c_j> exactly, so what remains is
//     |T_ij + 2 <c_i, c_j>| = 2 |g - <c_i, c_j>| for the computed inner product g. Inputs are rounded
//     to b = c (1 + rho) + e with |rho| <= v_in (input_unit) and |e| <= f_in (input_floor). Each product
//     b_ik b_jk is then exact (bf16 x bf16 has 16 significant bits; fp32 inputs multiply in the
//     accumulating unit's rounding, counted below), so
//       |sum b_i b_j - <c_i, c_j>| <= (2 v_in + v_in^2) sum |c_ik c_jk|
//                                      + f_in (1 + v_in)(|c_i|_1 + |c_j|_1) + d f_in^2.
//     Summing d terms in any order with unit roundoff v_acc per operation (FMA or not; a product that
//     underflows, or a flushed partial sum, errs by at most eta more each: 2 d eta) adds
//     gamma_{d+1}(v_acc) sum |b_i b_j|; rounding the sum to the output format adds v_out |sum| plus
//     f_out. Cauchy-Schwarz: sum |c_ik c_jk| <= |c_i| |c_j| <= (n_i + n_j) / 2 and
//     |c_i|_1 <= sqrt(d) |c_i|. Collecting (bounding 1 + gamma and the f^2 terms generously),
//       2 |g - <c_i, c_j>| <= beta (n_i + n_j) + r_i + r_j,
//       beta = (2 v_in + v_in^2) + (1 + v_in)^2 [gamma_{d+1}(v_acc) + v_out (1 + gamma_{d+1}(v_acc))],
//       r_i  = 2 (1 + v_in)(1 + 2 gamma) (f_in + eta) sqrt(d) sqrt(n_i) + (3 d + 2)(f_in + eta + f_out).
//     (The -2 scaling is exact.)
//  4. The filters' own float arithmetic. Each filter forms float sums such as T_ij + (n_j - s_j)
//     (magnitude below 2.1 (n_i + n_j)) and compares them with thresholds computed in double and
//     rounded outwards; each float sum errs by at most u times its magnitude, and a comparison
//     involves two of them on the side that could shrink a margin: 8 u (n_i + n_j) covers it.
// So delta = 1.01 [beta + 2 (2u' + u'^2) + 2 * 2^-40 + 8u] (the 1% absorbs the double arithmetic that
// evaluates the slack, which is then rounded up to float), per_root and per_row from r_i likewise.
//
// What the filters do with it. A row's true k nearest all have E <= the k-th smallest upper bound
// a_ij + s_i + s_j, and each of them has lower bound a_ij - s_i - s_j <= E, so every true neighbour is
// nominated. Nominated rows are measured with exact_sqdist and ranked by (distance, index): the lists
// are the exact ones whatever the format, with exact ties (equal E, the lower index first) and exact
// duplicates (E = 0, nominated like any other row, never skipped) included. The margin kept between
// the k-th nominated upper bound and the first excluded row is therefore 2 s_i + s_j + s_k (one-sided
// filter) or s_i + s_j over the k-th exact distance held (the symmetric search's streamed limit): for
// bf16 about 4 * 2^-8 * 2 n, i.e. about 3% of the centred squared norm, which is why the clustered
// search centres each cell on its own mean. Larger margins only nominate more rows; they never drop
// one.
//
// Where the bound cannot hold, bf16 is refused and the search nominates in fp32: a CPU without
// AVX-512 BF16, dimensions above kNominationMaxDim, or a centred squared norm above
// kNominationMaxNorm (overflow in the tile or its sums). Non-finite rows never get here (asserted
// where the searches start). The fp32 nominator keeps the factor the search has always used,
// 1.05 gamma(2d + 16) (larger than delta above with v_in = 0), plus the absolute terms of step 3.
#include "methods/knn/internal/nomination.h"

#include <cmath>

#include "core/error.h"
#include "methods/knn/internal/float_steps.h"
#include "methods/knn/internal/prepared_rows.h"

namespace dq::detail {
namespace {

constexpr double kU = 0x1p-24;
constexpr double kEta = 0x1p-126;

double gamma(double m, double v) { return m * v / (1.0 - m * v); }

}  // namespace

NominationFormat fp32_cpu_format() { return {.name = "fp32"}; }

NominationFormat bf16_cpu_format() {
  return {.name = "bf16", .input_unit = 0x1p-8, .input_floor = kEta, .accumulate_unit = kU};
}

double NominationBound::slack(double norm) const {
  const double s = delta * norm + per_root * std::sqrt(norm) + per_row;
  return static_cast<double>(round_up(s));
}

NominationBound nomination_bound(const NominationFormat& f, int64_t d) {
  DQ_ASSERT(d >= 1 && static_cast<double>(d) * 0x1p-24 < 0.5, "nomination bound asked for an unsupported dimension");
  const double dd = static_cast<double>(d);
  const double g = gamma(dd + 1.0, f.accumulate_unit);
  const double vin = f.input_unit;
  const double beta = (2 * vin + vin * vin) + (1 + vin) * (1 + vin) * (g + f.output_unit * (1 + g));
  const double up = kU / (1 - kU);
  NominationBound b;
  b.delta = 1.01 * (beta + 2 * (2 * up + up * up) + 2 * 0x1p-40 + 8 * kU);
  // The fp32 nominator keeps the search's original, larger factor (see above).
  if (vin == 0 && f.output_unit == 0) b.delta = std::max(b.delta, gemm_error_factor(d));
  b.per_root = 1.01 * 2 * (1 + vin) * (1 + 2 * g) * (f.input_floor + kEta) * std::sqrt(dd);
  b.per_row = 1.01 * (3 * dd + 2) * (f.input_floor + kEta + f.output_floor);
  return b;
}

bool cpu_has_bf16_kernel() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
  }();
  return has;
}

const char* nomination_name(Nomination n) {
  switch (n) {
    case Nomination::Auto: return "auto";
    case Nomination::Fp32: return "fp32";
    case Nomination::Bf16: return "bf16";
  }
  return "?";
}

Nomination resolve_nomination(Nomination requested, int64_t d, double max_norm, std::string* why) {
  auto refuse = [&](const char* reason) {
    if (why) *why = reason;
    return Nomination::Fp32;
  };
  if (why) why->clear();
  if (requested == Nomination::Fp32) return Nomination::Fp32;
  if (!cpu_has_bf16_kernel()) return refuse("this CPU has no AVX-512 BF16");
  if (d > kNominationMaxDim) return refuse("dimension above the bound's range");
  if (!(max_norm <= kNominationMaxNorm)) return refuse("centred norms too large for the bound (overflow)");
  return Nomination::Bf16;
}

}  // namespace dq::detail
