#pragma once
// Small embedding sets with the awkward cases real features have (exact duplicates, equal distances,
// a large common offset) and brute-force references for the neighbour search.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/memory_budget.h"
#include "core/rng.h"
#include "datasets/clustered_gaussian.h"
#include "methods/knn/search.h"

namespace dq::test {

struct Points {
  int64_t n = 0, d = 0;
  std::vector<float> z;
  RowMatrix matrix() const { return RowMatrix{z.data(), n, d}; }
  float* row(int64_t i) { return z.data() + i * d; }
  const float* row(int64_t i) const { return z.data() + i * d; }
};

// Gaussian points around a few centres (3 * N(0, 1) per dimension, points at 0.5 * N(0, 1) around
// them; the shared generator, datasets/clustered_gaussian.h), shifted by `offset` in every coordinate.
inline Points clustered_points(int64_t n, int64_t d, int64_t centres, double offset, uint64_t seed) {
  Points p{n, d,
           generate_clustered_gaussian(
               {.per_class = n, .dim = d, .clusters_per_class = centres, .cluster_spread = 0.5 / 3.0, .seed = seed})
               .features};
  for (float& v : p.z) v = static_cast<float>(offset + 3.0 * v);
  return p;
}

// Integer coordinates in [0, levels): many pairs at exactly the same distance.
inline Points grid_points(int64_t n, int64_t d, int64_t levels, uint64_t seed) {
  Rng rng(seed);
  Points p{n, d, std::vector<float>(static_cast<size_t>(n * d))};
  for (auto& v : p.z) v = static_cast<float>(rng.uniform_below(static_cast<uint64_t>(levels)));
  return p;
}

// Overwrites row `to` with a copy of row `from`.
inline void copy_row(Points& p, int64_t from, int64_t to) { std::copy_n(p.row(from), p.d, p.row(to)); }

// "" when the lists of rows 0, step, 2 step, ... each hold k distinct rows other than their own, in
// ascending order, each at its exact distance (the float of exact_sqdist): what an approximate search
// promises within what it searched. Otherwise the first row and slot that break it, and how.
inline std::string exact_lists_problem(const NeighbourLists& lists, const Points& p, int64_t k, int64_t step = 1) {
  for (int64_t i = 0; i < p.n; i += step) {
    std::vector<int32_t> seen;
    for (int64_t t = 0; t < k; ++t) {
      const int32_t j = lists.ids_of(i)[t];
      const std::string where = "row " + std::to_string(i) + " slot " + std::to_string(t) + ": ";
      if (j < 0 || j == i) return where + "lists " + std::to_string(j);
      if (std::find(seen.begin(), seen.end(), j) != seen.end()) return where + "repeats " + std::to_string(j);
      seen.push_back(j);
      if (lists.dist_of(i)[t] != static_cast<float>(exact_sqdist(p.row(i), p.row(j), p.d)))
        return where + "distance is not the exact one";
      if (t > 0 && lists.dist_of(i)[t - 1] > lists.dist_of(i)[t]) return where + "not ascending";
    }
  }
  return "";
}

// Every other row ranked by (exact distance, index), first k.
inline std::vector<std::vector<std::pair<double, int32_t>>> brute_knn(const Points& p, int64_t k) {
  std::vector<std::vector<std::pair<double, int32_t>>> out(static_cast<size_t>(p.n));
  for (int64_t i = 0; i < p.n; ++i) {
    auto& row = out[static_cast<size_t>(i)];
    for (int64_t j = 0; j < p.n; ++j)
      if (j != i) row.emplace_back(exact_sqdist(p.z.data() + i * p.d, p.z.data() + j * p.d, p.d), static_cast<int32_t>(j));
    std::sort(row.begin(), row.end());
    if (static_cast<int64_t>(row.size()) > k) row.resize(static_cast<size_t>(k));
  }
  return out;
}

// Mean of the `count` smallest non-zero distances over pairs i < j, by a full sort of all pairs.
inline double brute_lambda(const Points& p, int64_t count) {
  std::vector<double> all;
  for (int64_t i = 0; i < p.n; ++i)
    for (int64_t j = i + 1; j < p.n; ++j) {
      const double d = exact_sqdist(p.z.data() + i * p.d, p.z.data() + j * p.d, p.d);
      if (d > 0) all.push_back(d);
    }
  std::sort(all.begin(), all.end());
  if (static_cast<int64_t>(all.size()) > count) all.resize(static_cast<size_t>(count));
  double s = 0;
  for (double v : all) s += v;
  return all.empty() ? 0.0 : s / static_cast<double>(all.size());
}

// The awkward inputs every nominator (bf16 tiles, a LibTorch device) is checked on against fp32:
// clustered rows with small tiles, an odd dimension, a large offset, integer-grid ties, exact
// duplicates (a group larger than k, pairs hidden behind them), near-duplicates closer than bf16's
// resolution, and fewer rows than k.
struct NominationCase {
  const char* name;
  Points points;
  int64_t k;
  uint64_t tile_bytes;
};
inline std::vector<NominationCase> nomination_cases() {
  std::vector<NominationCase> cases;
  cases.push_back({"clustered 600 x 96, tiles of a few rows", clustered_points(600, 96, 6, 0.0, 5), 20, 96 << 10});
  cases.push_back({"odd dimension, one panel per tile", clustered_points(333, 33, 4, 0.0, 8), 10, 16 << 10});
  cases.push_back({"a large common offset", clustered_points(300, 64, 4, 1.0e4, 9), 10, 1 << 20});
  cases.push_back({"integer grid: ties everywhere", grid_points(400, 4, 3, 5), 20, 32 << 10});
  Points dup = clustered_points(500, 24, 5, 0.0, 3);
  for (int64_t i = 1; i <= 40; ++i) copy_row(dup, 0, i * 7);
  for (int64_t i = 0; i < 30; ++i) copy_row(dup, 300 + i, 350 + i);
  dup.row(499)[0] += 1e-3f;
  cases.push_back({"exact duplicates, a group larger than k", std::move(dup), 20, 48 << 10});
  Points near = clustered_points(300, 48, 3, 0.0, 13);
  for (int64_t i = 0; i < 60; ++i) {
    copy_row(near, i, 100 + i);
    near.row(100 + i)[i % 48] += 1e-4f * static_cast<float>(1 + i % 3);  // below 2^-8 of the value
  }
  cases.push_back({"near-duplicates closer than bf16's resolution", std::move(near), 15, 1 << 20});
  cases.push_back({"fewer rows than k", clustered_points(6, 8, 2, 0.0, 1), 20, 1 << 20});
  return cases;
}

// An 8 GiB budget shared by the KNN tests (their buffers are small; the budget's accounting is tested
// on its own).
inline MemoryBudget& big_budget() {
  static MemoryBudget memory(8ull << 30);
  return memory;
}

}  // namespace dq::test
