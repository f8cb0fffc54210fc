#pragma once
// Helpers shared by the dataset tests: write fixture files, build a loader's Params, load.
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "datasets/dataset.h"

namespace dq::test {

inline void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

using KeyValues = std::vector<std::pair<std::string, std::string>>;

inline Params loader_params(const std::string& kind, const KeyValues& values) {
  const auto& info = DatasetRegistry::instance().find(kind, "test");
  Params params("dataset '" + kind + "'", info.params);
  for (const auto& [k, v] : values) params.set_from_text(k, v, "test");
  return params;
}

inline Dataset load_with(const std::string& kind, const KeyValues& values) {
  return DatasetRegistry::instance().find(kind, "test").load(loader_params(kind, values));
}

// Pixel (channel c, row y, column x) of image i of a planar N x C x H x W set.
inline int pixel(const ImageSet& s, int64_t i, int64_t c, int64_t y, int64_t x) {
  return s.image(i)[(c * s.height + y) * s.width + x];
}

}  // namespace dq::test
