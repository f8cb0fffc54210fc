#pragma once
// Shared helpers for tests: a fresh scratch folder per test.
#include <cstdlib>
#include <filesystem>
#include <string>

namespace dq::test {
// A new empty folder under $DQ_TEST_TMP (set by ctest) or /tmp, named after `name`.
inline std::filesystem::path scratch_dir(const std::string& name) {
  const char* root = std::getenv("DQ_TEST_TMP");
  std::filesystem::path dir = std::filesystem::path(root ? root : "/tmp/dqbench-tests") / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}
}  // namespace dq::test

#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <vector>

namespace dq::test {
// Writes an unsigned-byte IDX file (gzip-compressed when the name ends in .gz).
inline void write_idx_u8(const std::filesystem::path& path, const std::vector<uint32_t>& shape,
                         const std::vector<uint8_t>& data, uint32_t magic_override = 0) {
  std::vector<uint8_t> bytes;
  const uint32_t magic = magic_override ? magic_override : (0x0800u | static_cast<uint32_t>(shape.size()));
  auto put32 = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) bytes.push_back(static_cast<uint8_t>(v >> s));
  };
  put32(magic);
  for (uint32_t s : shape) put32(s);
  bytes.insert(bytes.end(), data.begin(), data.end());
  if (path.extension() == ".gz") {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                static_cast<std::streamsize>(bytes.size()));
  }
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

// A tiny Fashion-MNIST-shaped dataset: n_train/n_test images of 28x28 whose class is drawn as a
// bright horizontal band at row 2*label (learnable in a few steps), plus deterministic noise.
inline void write_tiny_fashion_mnist(const std::filesystem::path& dir, uint32_t n_train, uint32_t n_test) {
  auto make = [&](const std::string& prefix, uint32_t n, uint32_t salt) {
    std::vector<uint8_t> images(static_cast<size_t>(n) * 784), labels(n);
    uint32_t state = 12345u + salt;
    for (uint32_t i = 0; i < n; ++i) {
      labels[i] = static_cast<uint8_t>(i % 10);
      for (uint32_t p = 0; p < 784; ++p) {
        state = state * 1664525u + 1013904223u;
        const uint32_t row = p / 28;
        const uint32_t top = 2u * labels[i] + 3u;
        const bool band = row >= top && row < top + 3u;
        images[static_cast<size_t>(i) * 784 + p] = static_cast<uint8_t>((band ? 180 : 20) + (state >> 27));
      }
    }
    write_idx_u8(dir / (prefix + "-images-idx3-ubyte.gz"), {n, 28, 28}, images);
    write_idx_u8(dir / (prefix + "-labels-idx1-ubyte.gz"), {n}, labels);
  };
  make("train", n_train, 1);
  make("t10k", n_test, 2);
}
}  // namespace dq::test
