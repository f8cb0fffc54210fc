#include "core/embedding_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

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

template <typename T>
[[noreturn]] void report(const EmbeddingOrigin& o, int64_t index, int64_t n, int64_t d, T v, int64_t bad) {
  const int64_t local = index / d, row = o.first_row + local, dim = index % d;
  std::string cls = "class ?";
  if (local < static_cast<int64_t>(o.labels.size())) {
    const int64_t label = o.labels[static_cast<size_t>(local)];
    cls = fmt::format("class {}", label);
    if (o.class_names && label >= 0 && label < static_cast<int64_t>(o.class_names->size()))
      cls += fmt::format(" '{}'", (*o.class_names)[static_cast<size_t>(label)]);
  }
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

// The check over n x d values, value i read by `read(i)` (float or double).
template <typename Read>
void check_values(Read read, int64_t n, int64_t d, const EmbeddingOrigin& origin) {
  if (n <= 0 || d <= 0) return;
  int64_t first = 0, bad = 0;
  scan(n * d, read, first, bad);
  if (bad > 0) report(origin, first, n, d, read(first), bad);
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

}  // namespace

void check_embeddings(const float* z, int64_t n, int64_t d, const EmbeddingOrigin& origin) {
  check_values([z](int64_t i) { return z[i]; }, n, d, origin);
}

void check_embeddings(const double* z, int64_t n, int64_t d, const EmbeddingOrigin& origin) {
  check_values([z](int64_t i) { return z[i]; }, n, d, origin);
}

void check_embeddings(const NpyArray& z, const EmbeddingOrigin& origin) {
  if (z.shape.size() != 2) return;
  if (z.dtype == "f4") check_values(bytes_as<float>(z.bytes.data()), z.shape[0], z.shape[1], origin);
  else if (z.dtype == "f8") check_values(bytes_as<double>(z.bytes.data()), z.shape[0], z.shape[1], origin);
}

}  // namespace dq
