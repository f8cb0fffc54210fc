// The image_folder loader on small generated trees.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "datasets/image_decode.h"
#include "datasets/image_encode.h"
#include "test_datasets_helpers.h"
#include "test_helpers.h"

using namespace dq;
using namespace dq::test;
namespace fs = std::filesystem;

namespace {

// An 8 x 8 RGB image whose every byte depends on (seed, y, x, channel).
std::vector<uint8_t> pattern(int seed) {
  std::vector<uint8_t> px(8 * 8 * 3);
  for (int i = 0; i < 8 * 8 * 3; ++i) px[i] = static_cast<uint8_t>((i * 37 + seed * 101) % 256);
  return px;
}

// train/cat: a.png, b.JPEG (really a PNG), c.jpg (grey JPEG), notes.txt, .hidden.png
// train/dog: d.png, e.jpg (CMYK JPEG, one flat colour)
// test/cat: f.png    test/dog: g.png
fs::path make_tree(const std::string& name) {
  const fs::path root = scratch_dir(name);
  auto png = [](int seed) { const auto px = pattern(seed); return encode_png(px.data(), 8, 8, 3); };
  write_bytes(root / "train/cat/a.png", png(1));
  write_bytes(root / "train/cat/b.JPEG", png(2));
  std::vector<uint8_t> grey(64, 90);
  write_bytes(root / "train/cat/c.jpg", encode_jpeg(grey.data(), 8, 8, 1, 95));
  write_text_file(root / "train/cat/notes.txt", "not an image");
  write_bytes(root / "train/cat/.hidden.png", png(9));
  write_bytes(root / "train/dog/d.png", png(4));
  std::vector<uint8_t> cmyk;
  for (int i = 0; i < 64; ++i) cmyk.insert(cmyk.end(), {200, 100, 40, 255});  // inverted: RGB (200, 100, 40)
  write_bytes(root / "train/dog/e.jpg", encode_jpeg(cmyk.data(), 8, 8, 4, 98));
  write_bytes(root / "test/cat/f.png", png(6));
  write_bytes(root / "test/dog/g.png", png(7));
  return root;
}

void check_equals_pattern(const ImageSet& s, int64_t i, int seed) {
  const auto px = pattern(seed);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) REQUIRE(pixel(s, i, c, y, x) == px[(y * 8 + x) * 3 + c]);
}

}  // namespace

TEST_CASE("image_folder loads classes, labels and pixels in sorted order", "[datasets]") {
  const fs::path root = make_tree("image_folder_basic");
  const Dataset d = load_with("image_folder", {{"path", root.string()}, {"image_size", "8"}});
  CHECK(d.class_names == std::vector<std::string>{"cat", "dog"});
  REQUIRE(d.train.n == 5);
  CHECK(d.train.channels == 3);
  CHECK(d.train.labels == std::vector<int64_t>{0, 0, 0, 1, 1});
  check_equals_pattern(d.train, 0, 1);  // a.png, lossless
  check_equals_pattern(d.train, 1, 2);  // b.JPEG holds a PNG: sniffed, decoded losslessly
  for (int c = 0; c < 3; ++c) CHECK(std::abs(pixel(d.train, 2, c, 3, 3) - 90) <= 2);  // grey JPEG -> R = G = B
  CHECK(std::abs(pixel(d.train, 4, 0, 4, 4) - 200) <= 3);                             // CMYK JPEG
  CHECK(std::abs(pixel(d.train, 4, 1, 4, 4) - 100) <= 3);
  CHECK(std::abs(pixel(d.train, 4, 2, 4, 4) - 40) <= 3);
  check_equals_pattern(d.train, 3, 4);
  REQUIRE(d.test.n == 2);
  CHECK(d.test.labels == std::vector<int64_t>{0, 1});
  check_equals_pattern(d.test, 1, 7);
  CHECK(d.load_report.at("ignored_files") == 2);  // notes.txt and .hidden.png
  CHECK(d.load_report.at("train_bad_images_skipped") == 0);
}

TEST_CASE("image_folder: grey output, area resize, caps and thread count", "[datasets]") {
  const fs::path root = make_tree("image_folder_options");
  SECTION("channels 1 gives PIL's luma") {
    const Dataset d = load_with("image_folder", {{"path", root.string()}, {"image_size", "8"}, {"channels", "1"}});
    CHECK(d.train.channels == 1);
    const auto px = pattern(1);
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) {
        const uint8_t* p = &px[(y * 8 + x) * 3];
        REQUIRE(pixel(d.train, 0, 0, y, x) == luma601(p[0], p[1], p[2]));
      }
  }
  SECTION("area resize to 4 x 4 averages 2 x 2 blocks") {
    const Dataset d = load_with("image_folder", {{"path", root.string()}, {"image_size", "4"}});
    CHECK(d.train.height == 4);
    const auto px = pattern(1);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x) {
          int sum = 0;
          for (int dy = 0; dy < 2; ++dy)
            for (int dx = 0; dx < 2; ++dx) sum += px[((2 * y + dy) * 8 + 2 * x + dx) * 3 + c];
          REQUIRE(pixel(d.train, 0, c, y, x) == (sum + 2) / 4);
        }
  }
  SECTION("max_per_class keeps the first files of each class") {
    const Dataset d = load_with("image_folder", {{"path", root.string()}, {"image_size", "8"}, {"max_per_class", "2"}});
    CHECK(d.train.labels == std::vector<int64_t>{0, 0, 1, 1});
    check_equals_pattern(d.train, 0, 1);
    check_equals_pattern(d.train, 2, 4);
  }
  SECTION("the thread count does not change a byte") {
    const Dataset one = load_with("image_folder", {{"path", root.string()}, {"image_size", "5"}, {"threads", "1"}});
    const Dataset many = load_with("image_folder", {{"path", root.string()}, {"image_size", "5"}, {"threads", "4"}});
    CHECK(one.train.pixels == many.train.pixels);
    CHECK(one.test.pixels == many.test.pixels);
  }
  SECTION("a val/ folder serves as the test split when there is no test/") {
    fs::rename(root / "test", root / "val");
    const Dataset d = load_with("image_folder", {{"path", root.string()}, {"image_size", "8"}});
    CHECK(d.test.n == 2);
  }
}

TEST_CASE("image_folder errors name the file or folder", "[datasets]") {
  const fs::path root = make_tree("image_folder_errors");
  SECTION("missing folder") {
    CHECK_THROWS_WITH(load_with("image_folder", {{"path", (root / "nope").string()}}),
                      Catch::Contains("nope/train") && Catch::Contains("not found"));
  }
  SECTION("a test class without a train class") {
    write_bytes(root / "test/bird/h.png", encode_png(pattern(1).data(), 8, 8, 3));
    CHECK_THROWS_WITH(load_with("image_folder", {{"path", root.string()}, {"image_size", "8"}}),
                      Catch::Contains("bird"));
  }
  SECTION("zero-byte image: error, or skipped and counted") {
    write_bytes(root / "train/dog/empty.jpg", {});
    CHECK_THROWS_WITH(load_with("image_folder", {{"path", root.string()}, {"image_size", "8"}}),
                      Catch::Contains("empty.jpg") && Catch::Contains("0 bytes"));
    const Dataset d =
        load_with("image_folder", {{"path", root.string()}, {"image_size", "8"}, {"on_bad_image", "skip"}});
    CHECK(d.train.n == 5);
    CHECK(d.train.labels == std::vector<int64_t>{0, 0, 0, 1, 1});
    check_equals_pattern(d.train, 3, 4);  // d.png still in its place
    CHECK(d.load_report.at("train_bad_images_skipped") == 1);
  }
  SECTION("truncated JPEG") {
    std::vector<uint8_t> noisy(64 * 64 * 3);
    for (size_t i = 0; i < noisy.size(); ++i) noisy[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
    auto jpg = encode_jpeg(noisy.data(), 64, 64, 3, 90);
    jpg.resize(jpg.size() * 3 / 4);
    write_bytes(root / "train/cat/cut.jpg", jpg);
    CHECK_THROWS_WITH(load_with("image_folder", {{"path", root.string()}, {"image_size", "8"}}),
                      Catch::Contains("cut.jpg") && Catch::Contains("truncated"));
  }
  SECTION("a class folder without images") {
    fs::create_directories(root / "train/empty_class");
    CHECK_THROWS_WITH(load_with("image_folder", {{"path", root.string()}}), Catch::Contains("empty_class"));
  }
}
