// The decode cache: identical round trip, reuse, invalidation, corruption.
#include <catch2/catch.hpp>

#include "datasets/decode_cache.h"
#include "datasets/image_encode.h"
#include "datasets/source_files.h"
#include "test_datasets_helpers.h"
#include "test_helpers.h"

using namespace dq;
using namespace dq::test;
namespace fs = std::filesystem;

namespace {

void check_same(const Dataset& a, const Dataset& b) {
  CHECK(a.kind == b.kind);
  CHECK(a.class_names == b.class_names);
  CHECK(a.load_report == b.load_report);
  CHECK(a.fingerprint == b.fingerprint);
  for (auto [x, y] : {std::pair{&a.train, &b.train}, std::pair{&a.test, &b.test}}) {
    CHECK(x->n == y->n);
    CHECK(x->channels == y->channels);
    CHECK(x->height == y->height);
    CHECK(x->width == y->width);
    CHECK(x->labels == y->labels);
    CHECK(x->pixels == y->pixels);
  }
  CHECK(a.feature_dim == b.feature_dim);
  CHECK(a.train_features == b.train_features);
}

std::vector<uint8_t> file_bytes(const fs::path& p) {
  std::vector<uint8_t> out;
  read_file_bytes(p.string(), out);
  return out;
}

const KeyValues kSynthetic = {{"classes", "3"}, {"train_per_class", "4"}, {"test_per_class", "2"}, {"image_size", "8"}};

}  // namespace

TEST_CASE("decode cache: the reload is identical and the file is deterministic", "[datasets]") {
  const fs::path dir = scratch_dir("cache_roundtrip");
  const Params p = loader_params("synthetic_images", kSynthetic);
  const LoadedDataset first = load_dataset("synthetic_images", p, dir.string(), "test");
  CHECK_FALSE(first.from_cache);
  REQUIRE(fs::exists(first.cache_path));
  const LoadedDataset second = load_dataset("synthetic_images", p, dir.string(), "test");
  CHECK(second.from_cache);
  CHECK(second.cache_path == first.cache_path);
  check_same(first.dataset, second.dataset);
  check_same(first.dataset, load_dataset("synthetic_images", p, "", "test").dataset);  // no cache at all

  // Rebuilding from scratch writes the same bytes.
  const auto bytes = file_bytes(first.cache_path);
  fs::remove(first.cache_path);
  CHECK_FALSE(load_dataset("synthetic_images", p, dir.string(), "test").from_cache);
  CHECK(file_bytes(first.cache_path) == bytes);
}

TEST_CASE("decode cache round-trips features and load reports", "[datasets]") {
  const fs::path dir = scratch_dir("cache_features");
  Dataset d;
  d.kind = "embeddings";
  d.class_names = {"a", "b"};
  d.train.n = 3;
  d.train.labels = {0, 1, 1};
  d.feature_dim = 2;
  d.train_features = {0.5f, -1.25f, 3e-8f, 7.0f, 1e18f, -0.0f};  // 1e18: the largest scale embeddings may have
  d.load_report = {{"rows_skipped", 3}, {"fraction", 0.1}};
  d.fingerprint = "embeddings|x";
  const std::string path = (dir / "e.dqds").string();
  write_dataset_cache(d, path);
  std::string why;
  const auto back = read_dataset_cache(path, d.fingerprint, &why);
  REQUIRE(back.has_value());
  check_same(d, *back);
  CHECK_FALSE(read_dataset_cache(path, "another fingerprint", &why).has_value());
  CHECK(why == "fingerprint differs");
}

TEST_CASE("decode cache: truncated or corrupt files are detected and rebuilt", "[datasets]") {
  const fs::path dir = scratch_dir("cache_corrupt");
  const Params p = loader_params("synthetic_images", kSynthetic);
  const LoadedDataset built = load_dataset("synthetic_images", p, dir.string(), "test");
  const auto good = file_bytes(built.cache_path);
  std::string why;
  SECTION("truncated") {
    fs::resize_file(built.cache_path, good.size() - 100);
    CHECK_FALSE(read_dataset_cache(built.cache_path, built.dataset.fingerprint, &why).has_value());
    CHECK_THAT(why, Catch::Contains("truncated"));
  }
  SECTION("one flipped pixel byte") {
    auto bad = good;
    bad[bad.size() / 2] ^= 0x01;  // inside the train pixels
    write_bytes(built.cache_path, bad);
    CHECK_FALSE(read_dataset_cache(built.cache_path, built.dataset.fingerprint, &why).has_value());
    CHECK_THAT(why, Catch::Contains("checksum"));
  }
  SECTION("garbage") {
    write_bytes(built.cache_path, std::vector<uint8_t>(1000, 'x'));
    CHECK_FALSE(read_dataset_cache(built.cache_path, built.dataset.fingerprint, &why).has_value());
  }
  const LoadedDataset again = load_dataset("synthetic_images", p, dir.string(), "test");
  CHECK_FALSE(again.from_cache);
  check_same(built.dataset, again.dataset);
  CHECK(file_bytes(built.cache_path) == good);
  CHECK(load_dataset("synthetic_images", p, dir.string(), "test").from_cache);
}

TEST_CASE("decode cache key follows the source files and the options", "[datasets]") {
  const fs::path root = scratch_dir("cache_invalidation");
  const fs::path cache = root / "cache";
  std::vector<uint8_t> px(4 * 4 * 3, 10);
  for (const char* f : {"train/a/1.png", "train/b/2.png", "test/a/3.png"})
    write_bytes(root / "data" / f, encode_png(px.data(), 4, 4, 3));
  auto load = [&](const KeyValues& extra) {
    KeyValues kv = {{"path", (root / "data").string()}, {"image_size", "4"}};
    kv.insert(kv.end(), extra.begin(), extra.end());
    return load_dataset("image_folder", loader_params("image_folder", kv), cache.string(), "test");
  };
  const LoadedDataset first = load({});
  CHECK_FALSE(first.from_cache);
  CHECK(load({}).from_cache);
  CHECK(load({{"threads", "1"}}).from_cache);  // speed-only option: same key
  CHECK_FALSE(load({{"image_size", "2"}}).from_cache);
  CHECK(load({{"image_size", "2"}}).cache_path != first.cache_path);

  // Same size, new content and a new mtime: the old cache entry must not be used.
  std::vector<uint8_t> px2(4 * 4 * 3, 200);
  const fs::path changed = root / "data/train/b/2.png";
  const auto old_time = fs::last_write_time(changed);
  write_bytes(changed, encode_png(px2.data(), 4, 4, 3));
  fs::last_write_time(changed, old_time + std::chrono::seconds(2));  // mtime ticks are coarse
  const LoadedDataset after = load({});
  CHECK_FALSE(after.from_cache);
  CHECK(after.cache_path != first.cache_path);
  CHECK(int(after.dataset.train.image(1)[0]) == 200);

  // A new file invalidates too.
  write_bytes(root / "data/train/b/3.png", encode_png(px.data(), 4, 4, 3));
  const LoadedDataset added = load({});
  CHECK_FALSE(added.from_cache);
  CHECK(added.dataset.train.n == 3);
}

TEST_CASE("load_dataset prefixes loader errors with where the dataset was defined", "[datasets]") {
  const Params p = loader_params("image_folder", {{"path", "/nonexistent/dq"}});
  CHECK_THROWS_WITH(load_dataset("image_folder", p, "", "x.yaml:3:5 dataset 'd'"),
                    Catch::StartsWith("x.yaml:3:5 dataset 'd': ") && Catch::Contains("/nonexistent/dq/train"));
}
