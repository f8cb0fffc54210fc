#pragma once
// NumPy .npy files (format 1.0/2.0/3.0), little-endian, C order: the format users' embeddings,
// labels and selections come in. Also our embedding cache format.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace dq {

struct NpyArray {
  std::string dtype;             // numpy descr without byte order: "f4", "f8", "i8", "i4", "u1", ...
  std::vector<int64_t> shape;
  std::vector<unsigned char> bytes;
  int64_t size() const;          // product of shape
  // Converting readers: throw dq::Error (naming `path`) if the dtype cannot convert.
  std::vector<float> as_float32(const std::string& path) const;
  std::vector<int64_t> as_int64(const std::string& path) const;
};

NpyArray read_npy(const std::string& path);
void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape);
void write_npy(const std::string& path, const double* data, const std::vector<int64_t>& shape);
void write_npy(const std::string& path, const int64_t* data, const std::vector<int64_t>& shape);
void write_npy(const std::string& path, const int32_t* data, const std::vector<int64_t>& shape);
void write_npy(const std::string& path, const uint8_t* data, const std::vector<int64_t>& shape);
// The sha256 of the file write_npy(path, data, shape) writes (header and data), computed without
// writing it: the content hash of an array that may never reach the disk (core/content_hash.h).
std::string npy_sha256(const float* data, const std::vector<int64_t>& shape);
// float32 written from consecutive pieces (e.g. per-class blocks) without joining them in memory;
// their sizes must add up to the shape.
void write_npy_rows(const std::string& path, const std::vector<std::span<const float>>& parts,
                    const std::vector<int64_t>& shape);

}  // namespace dq
