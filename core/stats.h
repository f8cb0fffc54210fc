#pragma once
// Summaries over seeds and paired differences between two methods, for the result tables (`dqbench
// table`, report/results_table.cpp) and the paper tables (report/).
// Standard small-sample statistics: sample standard deviation (n - 1), Student's t interval.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dq {

struct Summary {
  int64_t n = 0;
  double mean = 0;
  double sd = 0;  // sample standard deviation (divides by n - 1); 0 when n < 2
};
Summary summarize(const std::vector<double>& values);

// Quantile of Student's t distribution with `df` degrees of freedom: the t with P(T <= t) = p.
// p in (0, 1), df >= 1; DQ_ASSERT otherwise. Accurate to about 1e-10 (bisection on the CDF, which
// is computed from the regularised incomplete beta function).
double student_t_quantile(double p, int64_t df);
// P(T <= t) for Student's t with `df` degrees of freedom.
double student_t_cdf(double t, int64_t df);

// The paired difference a - b over the seeds present in both maps (seed -> value).
struct PairedDifference {
  int64_t n = 0;            // number of seeds present in both
  double mean = 0;          // mean of a_s - b_s
  double sd = 0;            // sample std of the differences
  bool has_interval = false;  // n >= 2
  double low = 0, high = 0;   // mean -/+ t_{1-(1-level)/2, n-1} * sd / sqrt(n)
  bool excludes_zero() const { return has_interval && (low > 0 || high < 0); }
};
// Whether `label` (a method's name, spec or label in a table) names the baseline `wanted` of an
// improvement column (`--baseline`): equal ignoring case ("random" names "Random").
bool names_baseline(const std::string& wanted, const std::string& label);

PairedDifference paired_difference(const std::map<int64_t, double>& a, const std::map<int64_t, double>& b,
                                   double level = 0.95);

}  // namespace dq
