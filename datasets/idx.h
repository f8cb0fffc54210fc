#pragma once
// IDX files (MNIST / Fashion-MNIST), plain or gzip-compressed: big-endian header
// (magic 0x00000800 | type << 8 | ndims, then ndims u32 sizes) and the data.
#include <cstdint>
#include <string>
#include <vector>

namespace dq {

struct IdxArray {
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // unsigned-byte IDX only (type 0x08)
};

// Throws dq::Error naming the file on a missing file, wrong magic, non-u8 type or truncated data.
IdxArray read_idx_u8(const std::string& path);

}  // namespace dq
