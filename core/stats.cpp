#include "core/stats.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/error.h"

namespace dq {

Summary summarize(const std::vector<double>& values) {
  Summary s;
  s.n = static_cast<int64_t>(values.size());
  if (s.n == 0) return s;
  for (double v : values) s.mean += v;
  s.mean /= static_cast<double>(s.n);
  if (s.n < 2) return s;
  double ss = 0;
  for (double v : values) ss += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(ss / static_cast<double>(s.n - 1));
  return s;
}

namespace {

// Continued fraction for the regularised incomplete beta function (modified Lentz's method).
double beta_continued_fraction(double a, double b, double x) {
  const double tiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 1000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-15) break;
  }
  return h;
}

// I_x(a, b).
double regularized_incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * beta_continued_fraction(a, b, x) / a;
  return 1 - front * beta_continued_fraction(b, a, 1 - x) / b;
}

}  // namespace

double student_t_cdf(double t, int64_t df) {
  DQ_ASSERT(df >= 1, "Student's t needs at least one degree of freedom");
  const double v = static_cast<double>(df);
  const double tail = 0.5 * regularized_incomplete_beta(v / 2, 0.5, v / (v + t * t));  // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

double student_t_quantile(double p, int64_t df) {
  DQ_ASSERT(p > 0 && p < 1, "a quantile's probability lies in (0, 1)");
  DQ_ASSERT(df >= 1, "Student's t needs at least one degree of freedom");
  if (p < 0.5) return -student_t_quantile(1 - p, df);
  double lo = 0, hi = 1;
  while (student_t_cdf(hi, df) < p) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

bool names_baseline(const std::string& wanted, const std::string& label) {
  return wanted.size() == label.size() && std::equal(wanted.begin(), wanted.end(), label.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

PairedDifference paired_difference(const std::map<int64_t, double>& a, const std::map<int64_t, double>& b,
                                   double level) {
  DQ_ASSERT(level > 0 && level < 1, "a confidence level lies in (0, 1)");
  std::vector<double> diffs;
  for (const auto& [seed, va] : a)
    if (auto it = b.find(seed); it != b.end()) diffs.push_back(va - it->second);
  const Summary s = summarize(diffs);
  PairedDifference out;
  out.n = s.n;
  out.mean = s.mean;
  out.sd = s.sd;
  if (s.n >= 2) {
    const double half = student_t_quantile(1 - (1 - level) / 2, s.n - 1) * s.sd / std::sqrt(static_cast<double>(s.n));
    out.has_interval = true;
    out.low = s.mean - half;
    out.high = s.mean + half;
  }
  return out;
}

}  // namespace dq
