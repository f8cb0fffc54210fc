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
#include "datasets/image_encode.h"

namespace dq::test {

inline void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_text_file(const std::filesystem::path& path, const std::string& text) {
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

// Source options (path, image_size) plus a case's own.
inline KeyValues joined(KeyValues base, const KeyValues& extra) {
  base.insert(base.end(), extra.begin(), extra.end());
  return base;
}

// A flat side x side PNG whose red channel is `tag`: identifies the image after loading.
inline std::vector<uint8_t> tagged_png(uint8_t tag, int side) {
  std::vector<uint8_t> px;
  for (int i = 0; i < side * side; ++i) px.insert(px.end(), {tag, 50, 60});
  return encode_png(px.data(), side, side, 3);
}

// Pixel (channel c, row y, column x) of image i of a planar N x C x H x W set.
inline int pixel(const ImageSet& s, int64_t i, int64_t c, int64_t y, int64_t x) {
  return s.image(i)[(c * s.height + y) * s.width + x];
}

// The red value at the centre of each image: the tags of tagged_png, in load order.
inline std::vector<int> red_tags(const ImageSet& s) {
  std::vector<int> out;
  for (int64_t i = 0; i < s.n; ++i) out.push_back(pixel(s, i, 0, s.height / 2, s.width / 2));
  return out;
}

}  // namespace dq::test
