#pragma once
// Deterministic randomness. std::uniform_int_distribution is implementation-defined, so we draw
// from a fully specified engine (splitmix64-seeded xoshiro256**) with our own bounded draws:
// the same seed gives the same selection on every platform and compiler.
#include <array>
#include <cstdint>
#include <string_view>

namespace dq {

uint64_t splitmix64(uint64_t& state);

// Seed for a named sub-task (e.g. class 3 of a cell): mixes base with a label, stable forever.
uint64_t derive_seed(uint64_t base, std::string_view label);
uint64_t derive_seed(uint64_t base, uint64_t index);

class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next_u64();
  // Uniform integer in [0, n), n > 0, without modulo bias (Lemire's method).
  uint64_t uniform_below(uint64_t n);
  // Uniform double in [0, 1) with 53 random bits.
  double uniform01();
  double normal();  // standard normal (Box-Muller, no cached second value)

 private:
  std::array<uint64_t, 4> s_;
};

}  // namespace dq
