#pragma once
// One float step up or down (internal to methods/knn/): what std::nextafter(x, +-inf) returns, inline.
// The filters round every bound outwards with these, once per admitted candidate and per row of a
// tile; glibc's nextafterf is a call each time (3% of the exact search's samples at 5,000 x 256).
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace dq::detail {

// The next float above x: std::nextafter(x, INFINITY) for every x (NaN and +inf return themselves,
// both zeros step to the smallest denormal, -denorm_min steps to -0).
inline float next_up(float x) {
  if (std::isnan(x) || x == std::numeric_limits<float>::infinity()) return x;
  if (x == 0.0f) return std::numeric_limits<float>::denorm_min();
  const auto u = std::bit_cast<uint32_t>(x);
  return std::bit_cast<float>(x > 0.0f ? u + 1 : u - 1);
}
// The next float below x: std::nextafter(x, -INFINITY).
inline float next_down(float x) { return -next_up(-x); }

// v rounded to float, then one step outwards: a float at or above (round_up) or at or below
// (round_down) v whatever the rounding of the conversion.
inline float round_up(double v) { return next_up(static_cast<float>(v)); }
inline float round_down(double v) { return next_down(static_cast<float>(v)); }

}  // namespace dq::detail
