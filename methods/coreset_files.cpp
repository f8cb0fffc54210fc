#include "methods/coreset_files.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <unordered_map>

#include "core/error.h"
#include "core/hashing.h"
#include "core/npy.h"

namespace dq {

namespace fs = std::filesystem;

CoresetSource CoresetSource::resolve(const std::string& file, const std::string& keep, const std::string& masks,
                                     const std::string& where) {
  std::error_code ec;
  auto existing = [&](const std::string& path, const char* what) {
    if (!fs::is_regular_file(path, ec))
      throw Error(fmt::format("{}: the coreset's {} file '{}' does not exist", where, what, path));
    return path;
  };
  CoresetSource s;
  if (fs::is_directory(file, ec)) {
    const fs::path dir(file);
    if (!fs::is_regular_file(dir / coreset_file::kIndices, ec))
      throw Error(fmt::format("{}: '{}' is a folder without {} (a dqbench export folder holds one)", where, file,
                              coreset_file::kIndices));
    s.indices = (dir / coreset_file::kIndices).string();
    auto optional = [&](const char* name) {
      return fs::is_regular_file(dir / name, ec) ? (dir / name).string() : std::string();
    };
    s.keep = optional(coreset_file::kKeep);
    s.masks = optional(coreset_file::kMasks);
    s.labels = optional(coreset_file::kLabels);
  } else {
    s.indices = existing(file, "ids");
  }
  if (!keep.empty()) s.keep = existing(keep, "keep");
  if (!masks.empty()) s.masks = existing(masks, "masks");
  return s;
}

std::string CoresetSource::content_sha256() const {
  std::string text;
  for (const auto& [role, path] :
       {std::pair{"indices", &indices}, {"keep", &keep}, {"masks", &masks}, {"labels", &labels}})
    if (!path->empty()) text += fmt::format("{}:{}\n", role, sha256_file_hex(*path));
  return sha256_hex(text);
}

namespace {

// A 1-D array of `n` rows (or any length when n < 0) of one of `dtypes`; the message says what to save.
NpyArray read_vector(const std::string& path, std::initializer_list<const char*> dtypes, const char* want, int64_t n,
                     const char* what) {
  NpyArray a = read_npy(path);
  bool ok = false;
  for (const char* d : dtypes) ok = ok || a.dtype == d;
  if (!ok) throw Error(fmt::format("{}: dtype '{}'; {} must be {}", path, a.dtype, what, want));
  if (a.shape.size() != 1)
    throw Error(fmt::format("{}: shape ({}); {} must be 1-D", path, fmt::join(a.shape, ", "), what));
  if (n >= 0 && a.shape[0] != n)
    throw Error(fmt::format("{}: {} rows; it must have one row per id of the coreset ({})", path, a.shape[0], n));
  return a;
}

}  // namespace

CoresetRows read_coreset(const CoresetSource& source, std::span<const int64_t> owner_label) {
  CoresetRows out;
  const std::string& ids_path = source.indices;
  const NpyArray ids =
      read_vector(ids_path, {"i8"}, "int64 ('<i8'): np.save(path, np.asarray(ids, dtype=np.int64))", -1, "dataset ids");
  out.ids = ids.as_int64(ids_path);
  const auto n = static_cast<int64_t>(out.ids.size());
  const auto n_train = static_cast<int64_t>(owner_label.size());
  std::unordered_map<int64_t, int64_t> row_of;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = out.ids[static_cast<size_t>(i)];
    if (id < 0 || id >= n_train)
      throw Error(
          fmt::format("{} row {}: id {} is outside the training split (ids 0..{})", ids_path, i, id, n_train - 1));
    if (owner_label[static_cast<size_t>(id)] < 0)
      throw Error(fmt::format("{} row {}: id {} is not a training sample of this cell", ids_path, i, id));
    if (auto [it, fresh] = row_of.emplace(id, i); !fresh)
      throw Error(fmt::format("{} rows {} and {}: id {} appears twice; a coreset holds each id once", ids_path,
                              it->second, i, id));
  }

  out.keep.assign(static_cast<size_t>(n), 1.0f);
  if (!source.keep.empty()) {
    out.keep = read_vector(source.keep, {"f4"}, "float32 ('<f4')", n, "keep fractions").as_float32(source.keep);
    for (int64_t i = 0; i < n; ++i)
      if (const float w = out.keep[static_cast<size_t>(i)]; !(w > 0.0f && w <= 1.0f))
        throw Error(fmt::format("{} row {}: keep {} is outside (0, 1] (id {})", source.keep, i, w,
                                out.ids[static_cast<size_t>(i)]));
  }

  if (!source.masks.empty()) {
    const std::string& path = source.masks;
    const NpyArray m = read_npy(path);
    if (m.dtype != "b1" && m.dtype != "u1")
      throw Error(fmt::format("{}: dtype '{}'; patch masks must be bool (or uint8 0/1)", path, m.dtype));
    if (m.shape.size() != 2 || m.shape[0] != n || m.shape[1] < 1)
      throw Error(fmt::format("{}: shape ({}); patch masks must be ({}, P): one row of P patches per id", path,
                              fmt::join(m.shape, ", "), n));
    out.patches = m.shape[1];
    out.masks.assign(m.bytes.begin(), m.bytes.end());
    const int64_t p = out.patches;
    for (int64_t i = 0; i < n; ++i) {
      int64_t kept = 0;
      for (int64_t k = 0; k < p; ++k) {
        const uint8_t v = out.masks[static_cast<size_t>(i * p + k)];
        if (v > 1) throw Error(fmt::format("{} row {} patch {}: value {}; a mask holds 0 or 1", path, i, k, v));
        kept += v;
      }
      if (kept == 0)
        throw Error(fmt::format("{} row {}: every patch is dropped (id {})", path, i, out.ids[static_cast<size_t>(i)]));
      const auto share = static_cast<float>(static_cast<double>(kept) / static_cast<double>(p));
      if (source.keep.empty()) {
        out.keep[static_cast<size_t>(i)] = share;
      } else if (std::fabs(out.keep[static_cast<size_t>(i)] - share) > 1e-6f) {
        throw Error(fmt::format("{} row {}: keep {} but {} row {} keeps {} of {} patches ({}); the two files disagree",
                                source.keep, i, out.keep[static_cast<size_t>(i)], path, i, kept, p, share));
      }
    }
  }

  if (!source.labels.empty()) {
    const std::vector<int64_t> labels =
        read_vector(source.labels, {"i8", "i4"}, "an integer array", n, "labels").as_int64(source.labels);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t id = out.ids[static_cast<size_t>(i)], mine = owner_label[static_cast<size_t>(id)];
      if (labels[static_cast<size_t>(i)] != mine)
        throw Error(
            fmt::format("{} row {}: id {} has label {} there but {} in this dataset (another dataset, or "
                        "another order of it?)",
                        source.labels, i, id, labels[static_cast<size_t>(i)], mine));
    }
  }
  return out;
}

}  // namespace dq
