// Decoding (JPEG via libjpeg-turbo, PNG via libpng), colour conversion and resizing.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "core/error.h"
#include "datasets/image_decode.h"
#include "datasets/image_encode.h"
#include "datasets/image_resize.h"

using namespace dq;

namespace {
// A smooth w x h RGB test card (JPEG keeps smooth images close to the original).
std::vector<uint8_t> smooth_rgb(int w, int h) {
  std::vector<uint8_t> px(static_cast<size_t>(w * h * 3));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      px[(y * w + x) * 3] = static_cast<uint8_t>(20 + 200 * x / (w - 1));
      px[(y * w + x) * 3 + 1] = static_cast<uint8_t>(30 + 180 * y / (h - 1));
      px[(y * w + x) * 3 + 2] = 128;
    }
  return px;
}

int max_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  REQUIRE(a.size() == b.size());
  int worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(int(a[i]) - int(b[i])));
  return worst;
}

DecodedImage decode(const std::vector<uint8_t>& bytes) { return decode_image_rgb(bytes.data(), bytes.size(), "mem"); }
}  // namespace

TEST_CASE("formats are sniffed from the magic bytes", "[datasets]") {
  const std::vector<uint8_t> px(4 * 4 * 3, 7);
  const auto png = encode_png(px.data(), 4, 4, 3);
  const auto jpg = encode_jpeg(px.data(), 4, 4, 3, 90);
  CHECK(sniff_image_format(png.data(), png.size()) == ImageFormat::Png);
  CHECK(sniff_image_format(jpg.data(), jpg.size()) == ImageFormat::Jpeg);
  const std::vector<uint8_t> bmp = {'B', 'M', 0, 0, 0, 0};
  CHECK(sniff_image_format(bmp.data(), bmp.size()) == ImageFormat::Unknown);
  CHECK_THROWS_WITH(decode_image_rgb(bmp.data(), bmp.size(), "x.jpg"), Catch::Contains("x.jpg") && Catch::Contains("424d"));
  CHECK_THROWS_WITH(decode_image_rgb(nullptr, 0, "empty.png"), Catch::Contains("empty.png") && Catch::Contains("0 bytes"));
}

TEST_CASE("PNG decodes pixel for pixel from grey, RGB, RGBA and grey+alpha", "[datasets]") {
  const auto rgb = smooth_rgb(5, 3);
  SECTION("RGB") {
    const auto img = decode(encode_png(rgb.data(), 5, 3, 3));
    CHECK(img.width == 5);
    CHECK(img.height == 3);
    CHECK(img.pixels == rgb);
  }
  SECTION("RGBA drops alpha without compositing") {
    std::vector<uint8_t> rgba;
    for (size_t i = 0; i < rgb.size(); i += 3) rgba.insert(rgba.end(), {rgb[i], rgb[i + 1], rgb[i + 2], uint8_t(i % 256)});
    CHECK(decode(encode_png(rgba.data(), 5, 3, 4)).pixels == rgb);
  }
  SECTION("grey and grey+alpha replicate the grey value") {
    const std::vector<uint8_t> grey = {0, 10, 20, 250, 255, 128};
    std::vector<uint8_t> expected, grey_alpha;
    for (uint8_t g : grey) expected.insert(expected.end(), {g, g, g}), grey_alpha.insert(grey_alpha.end(), {g, 3});
    CHECK(decode(encode_png(grey.data(), 3, 2, 1)).pixels == expected);
    CHECK(decode(encode_png(grey_alpha.data(), 3, 2, 2)).pixels == expected);
  }
}

TEST_CASE("grey conversion uses PIL's luma", "[datasets]") {
  // PIL: Image.new("RGB", (1, 1), c).convert("L") gives 76, 150, 29 for pure red, green, blue.
  DecodedImage img;
  img.width = 4;
  img.height = 1;
  img.channels = 3;
  img.pixels = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255};
  to_grey(img);
  CHECK(img.channels == 1);
  CHECK(img.pixels == std::vector<uint8_t>{76, 150, 29, 255});
}

TEST_CASE("JPEG decodes RGB, grey and CMYK to RGB within JPEG's error", "[datasets]") {
  SECTION("RGB") {
    const auto rgb = smooth_rgb(16, 16);
    const auto img = decode(encode_jpeg(rgb.data(), 16, 16, 3, 95));
    CHECK(img.channels == 3);
    CHECK(max_abs_diff(img.pixels, rgb) <= 8);
  }
  SECTION("grey") {
    std::vector<uint8_t> grey(16 * 8), expected;
    for (size_t i = 0; i < grey.size(); ++i) grey[i] = static_cast<uint8_t>(40 + (i % 16) * 8);
    for (uint8_t g : grey) expected.insert(expected.end(), {g, g, g});
    const auto img = decode(encode_jpeg(grey.data(), 16, 8, 1, 95));
    CHECK(max_abs_diff(img.pixels, expected) <= 4);
  }
  SECTION("CMYK in Adobe's inverted convention") {
    // Inverted storage: stored (r, g, b, 255) means no black ink and gives back (r, g, b); stored
    // k = 102 (60% black) scales the colour by 102/255.
    std::vector<uint8_t> cmyk, expected;
    for (int i = 0; i < 16 * 16; ++i) {
      const bool dark = i >= 128;
      cmyk.insert(cmyk.end(), {200, 100, 40, uint8_t(dark ? 102 : 255)});
      if (dark) expected.insert(expected.end(), {80, 40, 16});
      else expected.insert(expected.end(), {200, 100, 40});
    }
    const auto img = decode(encode_jpeg(cmyk.data(), 16, 16, 4, 98));
    CHECK(img.channels == 3);
    CHECK(max_abs_diff(img.pixels, expected) <= 4);
  }
}

TEST_CASE("plain CMYK converts with 0 = no ink", "[datasets]") {
  const uint8_t cmyk[] = {0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 255};
  uint8_t rgb[9];
  cmyk_to_rgb(cmyk, 3, false, rgb);
  CHECK(std::vector<uint8_t>(rgb, rgb + 9) == std::vector<uint8_t>{255, 255, 255, 0, 255, 255, 0, 0, 0});
}

TEST_CASE("truncated and corrupt files are errors naming the file", "[datasets]") {
  const auto rgb = smooth_rgb(32, 32);
  std::vector<uint8_t> noisy(64 * 64 * 3);  // noise: the entropy-coded scan dominates the file
  for (size_t i = 0; i < noisy.size(); ++i) noisy[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  auto jpg = encode_jpeg(noisy.data(), 64, 64, 3, 90);
  jpg.resize(jpg.size() * 3 / 4);
  CHECK_THROWS_WITH(decode_image_rgb(jpg.data(), jpg.size(), "cut.jpg"), Catch::Contains("cut.jpg") && Catch::Contains("truncated"));
  auto png = encode_png(rgb.data(), 32, 32, 3);
  png.resize(png.size() / 2);
  CHECK_THROWS_WITH(decode_image_rgb(png.data(), png.size(), "cut.png"), Catch::Contains("cut.png"));
  auto bad = encode_png(rgb.data(), 32, 32, 3);
  for (size_t i = 40; i < bad.size() - 20; ++i) bad[i] ^= 0x5A;  // scramble the compressed data
  CHECK_THROWS_WITH(decode_image_rgb(bad.data(), bad.size(), "bad.png"), Catch::Contains("bad.png"));
}

TEST_CASE("JPEG DCT scaling keeps both sides at least the requested size", "[datasets]") {
  const auto rgb = smooth_rgb(64, 48);
  const auto jpg = encode_jpeg(rgb.data(), 64, 48, 3, 90);
  const auto small = decode_image_rgb(jpg.data(), jpg.size(), "mem", 12);  // 2/8 scale: 16 x 12
  CHECK(small.width == 16);
  CHECK(small.height == 12);
  const auto mid = decode_image_rgb(jpg.data(), jpg.size(), "mem", 13);  // 3/8: 24 x 18
  CHECK(mid.width == 24);
  CHECK(mid.height == 18);
}

TEST_CASE("resizing: hand-worked nearest, area and bilinear", "[datasets]") {
  std::vector<uint8_t> src(16);
  for (int i = 0; i < 16; ++i) src[i] = static_cast<uint8_t>(i);  // 4 x 4 grey, value = 4y + x
  const ImageRegion whole{src.data(), 4, 4, 1, 4};
  std::vector<uint8_t> out(4);
  resize_region(whole, out.data(), 2, 2, Interpolation::Nearest);
  CHECK(out == std::vector<uint8_t>{5, 7, 13, 15});  // source pixels under the output centres (1 and 3)
  resize_region(whole, out.data(), 2, 2, Interpolation::Area);
  CHECK(out == std::vector<uint8_t>{3, 5, 11, 13});  // 2 x 2 block means 2.5, 4.5, 10.5, 12.5 rounded up

  const uint8_t row3[] = {0, 30, 60};
  uint8_t out2[2];
  resize_region({row3, 3, 1, 1, 3}, out2, 2, 1, Interpolation::Area);  // [0,1.5) and [1.5,3)
  CHECK(int(out2[0]) == 10);
  CHECK(int(out2[1]) == 50);

  const uint8_t row2[] = {0, 100};
  uint8_t out4[4];
  resize_region({row2, 2, 1, 1, 2}, out4, 4, 1, Interpolation::Bilinear);  // centres at -0.25, 0.25, 0.75, 1.25
  CHECK(std::vector<int>(out4, out4 + 4) == std::vector<int>{0, 25, 75, 100});
}

TEST_CASE("fit_square crops the centre or stretches", "[datasets]") {
  std::vector<uint8_t> wide(6 * 4);  // 6 wide, 4 high, value = 10y + x
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x) wide[y * 6 + x] = static_cast<uint8_t>(10 * y + x);
  std::vector<uint8_t> out(16);
  fit_square(wide.data(), 6, 4, 1, out.data(), 4, ResizeMode::Crop, Interpolation::Area);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) CHECK(int(out[y * 4 + x]) == 10 * y + x + 1);  // columns 1..4
  std::vector<uint8_t> out2(4);
  fit_square(wide.data(), 6, 4, 1, out2.data(), 2, ResizeMode::Stretch, Interpolation::Nearest);
  // x centres map to source columns 1 and 4, y centres to rows 1 and 3.
  CHECK(out2 == std::vector<uint8_t>{11, 14, 31, 34});
}
