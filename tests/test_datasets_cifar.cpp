// CIFAR-10 / CIFAR-100 binary loaders on generated record files.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/error.h"
#include "test_datasets_helpers.h"
#include "test_helpers.h"

using namespace dq;
using namespace dq::test;
namespace fs = std::filesystem;

namespace {

uint8_t pixel_byte(int record_id, int offset) { return static_cast<uint8_t>((record_id * 131 + offset * 7) % 251); }

// One record: label bytes, then 3072 pixel bytes that encode (record_id, offset).
void append_record(std::vector<uint8_t>& out, std::vector<uint8_t> labels, int record_id) {
  out.insert(out.end(), labels.begin(), labels.end());
  for (int k = 0; k < 3072; ++k) out.push_back(pixel_byte(record_id, k));
}

const char* kCifar10Names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n\n";

// Batch b (1..5) holds records 10b, 10b+1, 10b+2 with labels (b + j) % 10; test holds 100, 101.
fs::path make_cifar10(const std::string& name) {
  const fs::path dir = scratch_dir(name);
  for (int b = 1; b <= 5; ++b) {
    std::vector<uint8_t> bytes;
    for (int j = 0; j < 3; ++j) append_record(bytes, {uint8_t((b + j) % 10)}, 10 * b + j);
    write_bytes(dir / fmt::format("data_batch_{}.bin", b), bytes);
  }
  std::vector<uint8_t> test;
  append_record(test, {9}, 100);
  append_record(test, {0}, 101);
  write_bytes(dir / "test_batch.bin", test);
  write_text_file(dir / "batches.meta.txt", kCifar10Names);
  return dir;
}

void check_record(const ImageSet& s, int64_t i, int record_id) {
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; y += 5)
      for (int x = 0; x < 32; x += 3) REQUIRE(pixel(s, i, c, y, x) == pixel_byte(record_id, c * 1024 + y * 32 + x));
}

}  // namespace

TEST_CASE("cifar10: batches 1..5 in order, planar pixels, names from batches.meta.txt", "[datasets]") {
  const fs::path dir = make_cifar10("cifar10_ok");
  const Dataset d = load_with("cifar10", {{"path", dir.string()}});
  CHECK(d.class_names.size() == 10);
  CHECK(d.class_names[0] == "airplane");
  CHECK(d.class_names[9] == "truck");
  REQUIRE(d.train.n == 15);
  CHECK(d.train.channels == 3);
  CHECK(d.train.height == 32);
  for (int b = 1; b <= 5; ++b)
    for (int j = 0; j < 3; ++j) {
      const int64_t i = (b - 1) * 3 + j;
      CHECK(d.train.labels[i] == (b + j) % 10);
      check_record(d.train, i, 10 * b + j);
    }
  REQUIRE(d.test.n == 2);
  CHECK(d.test.labels == std::vector<int64_t>{9, 0});
  check_record(d.test, 1, 101);
}

TEST_CASE("cifar10 errors name the file and the record", "[datasets]") {
  const fs::path dir = make_cifar10("cifar10_bad");
  SECTION("truncated batch") {
    fs::resize_file(dir / "data_batch_3.bin", 3 * 3073 - 5);
    CHECK_THROWS_WITH(load_with("cifar10", {{"path", dir.string()}}),
                      Catch::Contains("data_batch_3.bin") && Catch::Contains("record 2 is cut"));
  }
  SECTION("label out of range") {
    std::vector<uint8_t> bytes;
    append_record(bytes, {3}, 0);
    append_record(bytes, {10}, 1);
    write_bytes(dir / "data_batch_2.bin", bytes);
    CHECK_THROWS_WITH(load_with("cifar10", {{"path", dir.string()}}),
                      Catch::Contains("data_batch_2.bin") && Catch::Contains("record 1") && Catch::Contains("0..9"));
  }
  SECTION("missing meta file") {
    fs::remove(dir / "batches.meta.txt");
    CHECK_THROWS_WITH(load_with("cifar10", {{"path", dir.string()}}), Catch::Contains("batches.meta.txt"));
  }
  SECTION("wrong number of class names") {
    write_text_file(dir / "batches.meta.txt", "a\nb\n");
    CHECK_THROWS_WITH(load_with("cifar10", {{"path", dir.string()}}), Catch::Contains("2 class names, expected 10"));
  }
  SECTION("missing folder") {
    CHECK_THROWS_WITH(load_with("cifar10", {{"path", (dir / "x").string()}}), Catch::Contains("not found"));
  }
}

TEST_CASE("cifar100: fine or coarse label from the two label bytes", "[datasets]") {
  const fs::path dir = scratch_dir("cifar100");
  std::vector<uint8_t> train, test;
  append_record(train, {19, 99}, 1);
  append_record(train, {0, 4}, 2);
  append_record(train, {7, 50}, 3);
  append_record(test, {3, 12}, 4);
  write_bytes(dir / "train.bin", train);
  write_bytes(dir / "test.bin", test);
  std::string fine, coarse;
  for (int i = 0; i < 100; ++i) fine += fmt::format("fine{}\n", i);
  for (int i = 0; i < 20; ++i) coarse += fmt::format("coarse{}\r\n", i);  // CRLF line ends are fine too
  write_text_file(dir / "fine_label_names.txt", fine);
  write_text_file(dir / "coarse_label_names.txt", coarse);

  const Dataset f = load_with("cifar100", {{"path", dir.string()}});
  CHECK(f.class_names.size() == 100);
  CHECK(f.class_names[99] == "fine99");
  CHECK(f.train.labels == std::vector<int64_t>{99, 4, 50});
  CHECK(f.test.labels == std::vector<int64_t>{12});
  check_record(f.train, 2, 3);
  const Dataset c = load_with("cifar100", {{"path", dir.string()}, {"label", "coarse"}});
  CHECK(c.class_names.size() == 20);
  CHECK(c.class_names[19] == "coarse19");
  CHECK(c.train.labels == std::vector<int64_t>{19, 0, 7});
  check_record(c.test, 0, 4);

  std::vector<uint8_t> bad;
  append_record(bad, {20, 1}, 5);  // coarse label 20 does not exist
  write_bytes(dir / "test.bin", bad);
  CHECK_THROWS_WITH(load_with("cifar100", {{"path", dir.string()}}),
                    Catch::Contains("test.bin") && Catch::Contains("record 0") && Catch::Contains("coarse label 20"));
}
