#include "core/embedding_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/npy.h"

namespace dq {
namespace {

enum class Fault { None, NaN, PosInf, NegInf, BeyondFloat32 };

template <typename T>
Fault classify(T v) {
  if (std::isnan(v)) return Fault::NaN;
  if (std::isinf(v)) return v > 0 ? Fault::PosInf : Fault::NegInf;
  if constexpr (sizeof(T) > sizeof(float))
    if (std::fabs(v) > static_cast<T>(std::numeric_limits<float>::max())) return Fault::BeyondFloat32;
  return Fault::None;
}

// First bad flat index (n * d when none) and the number of bad values; `value(i)` reads value i.
template <typename Read>
void scan(int64_t count, Read value, int64_t& first, int64_t& bad) {
  first = count;
  bad = 0;
#pragma omp parallel for schedule(static) reduction(min : first) reduction(+ : bad)
  for (int64_t i = 0; i < count; ++i)
    if (classify(value(i)) != Fault::None) {
      first = std::min(first, i);
      ++bad;
    }
}

std::string class_of(const EmbeddingOrigin& o, int64_t local);

template <typename T>
[[noreturn]] void report(const EmbeddingOrigin& o, int64_t index, int64_t n, int64_t d, T v, int64_t bad) {
  const int64_t local = index / d, row = o.first_row + local, dim = index % d;
  const std::string cls = class_of(o, local);
  const std::string all =
      fmt::format("{} bad value{} in rows {}..{}", bad, bad == 1 ? "" : "s", o.first_row, o.first_row + n - 1);
  const Fault f = classify(v);
  if (f == Fault::BeyondFloat32)
    throw Error(fmt::format("{}: embedding row {} ({}), dim {} is {:g} in float64, beyond the float32 range "
                            "(|x| <= {:g}) ({}): embeddings are used as float32",
                            o.source, row, cls, dim, static_cast<double>(v), std::numeric_limits<float>::max(), all));
  const char* what = f == Fault::NaN ? "NaN" : f == Fault::PosInf ? "+inf" : "-inf";
  throw Error(fmt::format("{}: embedding row {} ({}), dim {} is {} ({}): embeddings must be finite", o.source, row,
                          cls, dim, what, all));
}

// "class 1 'b'" for local row `local` of the origin (or "class ?" when it has no label).
std::string class_of(const EmbeddingOrigin& o, int64_t local) {
  if (local >= static_cast<int64_t>(o.labels.size())) return "class ?";
  const int64_t label = o.labels[static_cast<size_t>(local)];
  std::string cls = fmt::format("class {}", label);
  if (o.class_names && label >= 0 && label < static_cast<int64_t>(o.class_names->size()))
    cls += fmt::format(" '{}'", (*o.class_names)[static_cast<size_t>(label)]);
  return cls;
}

// The check over n x d values, value i read by `read(i)` (float or double): every value finite and
// within float32, then every row's squared norm within kMaxRowSquaredNorm.
template <typename Read>
void check_values(Read read, int64_t n, int64_t d, const EmbeddingOrigin& origin) {
  if (n <= 0 || d <= 0) return;
  int64_t first = 0, bad = 0;
  scan(n * d, read, first, bad);
  if (bad > 0) report(origin, first, n, d, read(first), bad);
  int64_t first_row = n, big = 0;
#pragma omp parallel for schedule(static) reduction(min : first_row) reduction(+ : big)
  for (int64_t r = 0; r < n; ++r) {
    double norm2 = 0;
    for (int64_t j = 0; j < d; ++j) norm2 += static_cast<double>(read(r * d + j)) * static_cast<double>(read(r * d + j));
    if (norm2 > kMaxRowSquaredNorm) {
      first_row = std::min(first_row, r);
      ++big;
    }
  }
  if (big == 0) return;
  double norm2 = 0;
  for (int64_t j = 0; j < d; ++j)
    norm2 += static_cast<double>(read(first_row * d + j)) * static_cast<double>(read(first_row * d + j));
  throw Error(fmt::format("{}: embedding row {} ({}) has squared norm {:g}, beyond {:g} ({} such row{} in rows {}..{}): "
                          "squared distances between rows would overflow float32; scale the embeddings down (or subtract "
                          "their mean, where a common offset makes the norms large)",
                          origin.source, origin.first_row + first_row, class_of(origin, first_row), norm2,
                          kMaxRowSquaredNorm, big, big == 1 ? "" : "s", origin.first_row, origin.first_row + n - 1));
}

// Reads values of type T stored (maybe unaligned) as little-endian bytes, as in a .npy file.
template <typename T>
auto bytes_as(const unsigned char* bytes) {
  return [bytes](int64_t i) {
    T v;
    std::memcpy(&v, bytes + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    return v;
  };
}

// float32_loss over values read by `z(i)` (a pointer's, or a .npy file's bytes as bytes_as reads them).
template <typename Read>
Float32Loss float32_loss_of(Read z, int64_t n, int64_t d) {
  Float32Loss loss;
  for (int64_t i = 0; i < n * d; ++i)
    if (const double v = z(i); v != 0 && static_cast<float>(v) == 0.0f && loss.zeroed_values++ == 0) {
      loss.zeroed_row = i / d;
      loss.zeroed_dim = i % d;
    }
  // Rows sorted by their float32 values, then their float64 values, then row index: within a run of
  // equal float32 rows, each change of float64 values is one more row lost.
  auto as32 = [&](int64_t r, int64_t j) { return static_cast<float>(z(r * d + j)); };
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) order[static_cast<size_t>(r)] = r;
  auto less32 = [&](int64_t a, int64_t b) {
    for (int64_t j = 0; j < d; ++j)
      if (as32(a, j) != as32(b, j)) return as32(a, j) < as32(b, j);
    for (int64_t j = 0; j < d; ++j)
      if (z(a * d + j) != z(b * d + j)) return z(a * d + j) < z(b * d + j);
    return a < b;
  };
  auto same32 = [&](int64_t a, int64_t b) {
    for (int64_t j = 0; j < d; ++j)
      if (as32(a, j) != as32(b, j)) return false;
    return true;
  };
  auto same64 = [&](int64_t a, int64_t b) {
    for (int64_t j = 0; j < d; ++j)
      if (z(a * d + j) != z(b * d + j)) return false;
    return true;
  };
  std::sort(order.begin(), order.end(), less32);
  for (size_t begin = 0; begin < order.size();) {
    size_t end = begin + 1;
    while (end < order.size() && same32(order[begin], order[end])) ++end;
    // The run's float64 groups (consecutive), each with its lowest row; the example pair is the run's
    // lowest row and the lowest row of another group.
    std::vector<int64_t> lowest;
    for (size_t t = begin; t < end; ++t)
      if (t == begin || !same64(order[t - 1], order[t])) lowest.push_back(order[t]);
      else lowest.back() = std::min(lowest.back(), order[t]);
    loss.merged_rows += static_cast<int64_t>(lowest.size()) - 1;
    if (lowest.size() > 1) {
      std::sort(lowest.begin(), lowest.end());
      if (loss.merged_row < 0 || lowest[1] < loss.merged_row) {
        loss.merged_with = lowest[0];
        loss.merged_row = lowest[1];
      }
    }
    begin = end;
  }
  return loss;
}

}  // namespace

void check_embeddings(const float* z, int64_t n, int64_t d, const EmbeddingOrigin& origin) {
  check_values([z](int64_t i) { return z[i]; }, n, d, origin);
}

void check_embeddings(const double* z, int64_t n, int64_t d, const EmbeddingOrigin& origin) {
  check_values([z](int64_t i) { return z[i]; }, n, d, origin);
}

Float32Loss float32_loss(const double* z, int64_t n, int64_t d) {
  return float32_loss_of([z](int64_t i) { return z[i]; }, n, d);
}

void check_embeddings(const NpyArray& z, const EmbeddingOrigin& origin) {
  if (z.shape.size() != 2) return;
  if (z.dtype == "f4") check_values(bytes_as<float>(z.bytes.data()), z.shape[0], z.shape[1], origin);
  else if (z.dtype == "f8") {
    check_values(bytes_as<double>(z.bytes.data()), z.shape[0], z.shape[1], origin);
    const Float32Loss loss = float32_loss_of(bytes_as<double>(z.bytes.data()), z.shape[0], z.shape[1]);
    if (loss.merged_rows > 0)
      fmt::print(stderr,
                 "warning: {}: {} row{} distinct in float64 become equal to another row in float32 (rows {} and {}, "
                 "for one): embeddings are used as float32; subtract a common offset or rescale to keep them apart\n",
                 origin.source, loss.merged_rows, loss.merged_rows == 1 ? "" : "s", origin.first_row + loss.merged_with,
                 origin.first_row + loss.merged_row);
    if (loss.zeroed_values > 0)
      fmt::print(stderr,
                 "warning: {}: {} nonzero float64 value{} become 0 in float32 (row {}, dim {}, for one): embeddings "
                 "are used as float32; rescale to keep them\n",
                 origin.source, loss.zeroed_values, loss.zeroed_values == 1 ? "" : "s", origin.first_row + loss.zeroed_row,
                 loss.zeroed_dim);
  }
}

}  // namespace dq
