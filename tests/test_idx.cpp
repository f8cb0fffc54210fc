#include <catch2/catch.hpp>

#include <algorithm>

#include "core/error.h"
#include "core/params.h"
#include "datasets/dataset.h"
#include "datasets/idx.h"
#include "test_helpers.h"

using namespace dq;

TEST_CASE("IDX reader reads gzipped and plain files byte for byte", "[idx]") {
  const auto dir = test::scratch_dir("idx_good");
  std::vector<uint8_t> data(2 * 3 * 4);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 1);
  test::write_idx_u8(dir / "a.gz", {2, 3, 4}, data);
  test::write_idx_u8(dir / "a.idx", {2, 3, 4}, data);
  for (const char* name : {"a.gz", "a.idx"}) {
    const IdxArray arr = read_idx_u8((dir / name).string());
    CHECK(arr.shape == std::vector<int64_t>{2, 3, 4});
    CHECK(arr.data == data);
  }
}

TEST_CASE("IDX reader rejects truncated files and wrong magic, naming the file", "[idx]") {
  const auto dir = test::scratch_dir("idx_bad");
  std::vector<uint8_t> short_data(10);  // header promises 24 bytes
  test::write_idx_u8(dir / "short.gz", {2, 3, 4}, short_data);
  CHECK_THROWS_WITH(read_idx_u8((dir / "short.gz").string()),
                    Catch::Contains("short.gz") && Catch::Contains("truncated"));
  test::write_idx_u8(dir / "magic.gz", {4}, {1, 2, 3, 4}, 0x12340801u);
  CHECK_THROWS_WITH(read_idx_u8((dir / "magic.gz").string()),
                    Catch::Contains("magic.gz") && Catch::Contains("wrong magic"));
  test::write_idx_u8(dir / "float.gz", {1}, {0, 0, 0, 0}, 0x00000D01u);
  CHECK_THROWS_WITH(read_idx_u8((dir / "float.gz").string()), Catch::Contains("not unsigned byte"));
  CHECK_THROWS_WITH(read_idx_u8((dir / "missing.gz").string()), Catch::Contains("missing.gz"));
}

TEST_CASE("fashion_mnist loader builds both splits and checks label/image counts", "[idx]") {
  const auto dir = test::scratch_dir("fmnist_tiny");
  test::write_tiny_fashion_mnist(dir, 30, 20);
  const auto& info = DatasetRegistry::instance().find("fashion_mnist", "test");
  Params p("dataset", info.params);
  p.set_from_text("path", dir.string(), "test");
  const Dataset d = info.load(p);
  CHECK(d.train.n == 30);
  CHECK(d.test.n == 20);
  CHECK(d.train.channels == 1);
  CHECK(d.train.height == 28);
  CHECK(d.train.labels[13] == 3);
  CHECK(d.class_names[9] == "Ankle boot");
  CHECK(!info.fingerprint(p).empty());

  // Labels file with fewer records than images.
  test::write_idx_u8(dir / "t10k-labels-idx1-ubyte.gz", {19}, std::vector<uint8_t>(19, 1));
  CHECK_THROWS_WITH(info.load(p), Catch::Contains("t10k-labels") && Catch::Contains("do not match"));
  // A label outside 0..9.
  test::write_idx_u8(dir / "t10k-labels-idx1-ubyte.gz", {20}, std::vector<uint8_t>(20, 12));
  CHECK_THROWS_WITH(info.load(p), Catch::Contains("label 12"));
}

TEST_CASE("fashion_mnist max_per_class keeps the first N of each class in file order; 0 leaves ids unchanged",
          "[idx]") {
  const auto dir = test::scratch_dir("fmnist_cap");
  test::write_tiny_fashion_mnist(dir, 30, 20);  // label = index % 10: three of each class in train
  const auto& info = DatasetRegistry::instance().find("fashion_mnist", "test");
  Params full("dataset", info.params);
  full.set_from_text("path", dir.string(), "test");
  Params capped = full;
  capped.set_from_text("max_per_class", "2", "test");
  capped.set_from_text("max_test_per_class", "1", "test");
  const Dataset all = info.load(full);
  const Dataset d = info.load(capped);
  REQUIRE(d.train.n == 20);  // images 0..19: the first two of each class
  CHECK(d.test.n == 10);
  for (int64_t i = 0; i < d.train.n; ++i) {
    CHECK(d.train.labels[static_cast<size_t>(i)] == i % 10);
    CHECK(std::equal(d.train.image(i), d.train.image(i) + 784, all.train.image(i)));
  }
  CHECK(info.fingerprint(capped) != info.fingerprint(full));
  // At 0 the keys stay out of identity, so cells and caches recorded before they existed keep their ids.
  CHECK(full.canonical().find("max_per_class") == std::string::npos);
  CHECK(capped.canonical().find("max_per_class=2") != std::string::npos);
}
