// The worked dataset loader of datasets/README.md (tests/example_dataset.cpp): it registers, loads
// what its files hold, refuses what they do not, goes through the decode cache, and a cell runs on it
// from an experiment file like any built-in kind.
#include <catch2/catch.hpp>

#include <filesystem>

#include "core/error.h"
#include "core/npy.h"
#include "datasets/dataset.h"
#include "datasets/decode_cache.h"
#include "harness/experiment.h"
#include "test_cell_helpers.h"
#include "test_helpers.h"

using namespace dq;

namespace {
// n images of 1 x 4 x 4: image i is filled with the value 10 * i; labels i % classes.
void write_split(const std::filesystem::path& dir, const std::string& split, int64_t n, int64_t classes) {
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    pixels.insert(pixels.end(), 16, static_cast<uint8_t>(10 * i));
    labels.push_back(i % classes);
  }
  write_npy((dir / (split + "_images.npy")).string(), pixels.data(), {n, 1, 4, 4});
  write_npy((dir / (split + "_labels.npy")).string(), labels.data(), {n});
}

Params npy_images_params(const std::string& path) {
  Params p("dataset 'example_npy_images'", DatasetRegistry::instance().find("example_npy_images", "test").params);
  p.set_from_text("path", path, "test");
  return p;
}
}  // namespace

TEST_CASE("example dataset loader: registered, loads its files, refuses bad ones naming the file", "[example]") {
  const auto dir = test::scratch_dir("example_dataset");
  write_split(dir, "train", 12, 3);
  write_split(dir, "test", 6, 3);
  const LoadedDataset first = load_dataset("example_npy_images", npy_images_params(dir.string()), (dir / "cache").string(), "test");
  const Dataset& d = first.dataset;
  CHECK_FALSE(first.from_cache);
  CHECK(d.class_names == std::vector<std::string>{"0", "1", "2"});
  CHECK(d.train.n == 12);
  CHECK(d.test.n == 6);
  CHECK(d.has_images());
  CHECK(d.train.image(5)[7] == 50);
  CHECK(d.train.labels[5] == 2);
  // The second load comes from the decode cache, byte for byte.
  const LoadedDataset second = load_dataset("example_npy_images", npy_images_params(dir.string()), (dir / "cache").string(), "test");
  CHECK(second.from_cache);
  CHECK(second.dataset.train.pixels == d.train.pixels);
  CHECK(second.dataset.content_sha256 == d.content_sha256);

  const auto& info = DatasetRegistry::instance().find("example_npy_images", "test");
  const int64_t four = 4;
  write_npy((dir / "test_labels.npy").string(), &four, {1});
  CHECK_THROWS_WITH(info.load(npy_images_params(dir.string())),
                    Catch::Contains("test_labels.npy: 1 labels for the 6 images"));
  const float wrong[16] = {};
  write_npy((dir / "test_images.npy").string(), wrong, {1, 1, 4, 4});
  CHECK_THROWS_WITH(info.load(npy_images_params(dir.string())),
                    Catch::Contains("test_images.npy: expected uint8 images") && Catch::Contains("got dtype f4"));
  std::filesystem::remove(dir / "train_labels.npy");
  CHECK_THROWS_AS(info.load(npy_images_params(dir.string())), Error);
}

TEST_CASE("example dataset loader: a cell runs on it from an experiment file", "[example]") {
  const auto dir = test::scratch_dir("example_dataset_cell");
  write_split(dir, "train", 30, 3);
  write_split(dir, "test", 6, 3);
  test::write_text(dir / "e.yaml", "name: e\ndatabase: " + (dir / "e.db").string() + "\ncache_dir: " +
                                       (dir / "cache").string() + "\ndatasets: {mine: {kind: example_npy_images, path: " +
                                       dir.string() + "}}\ntrain: none\ngrid: {method: [random], ratio: [0.2]}\n");
  const Experiment ex = load_experiment((dir / "e.yaml").string());
  REQUIRE(ex.cells.size() == 1);
  Store store(ex.database);
  CHECK(test::run_cell_here(ex, ex.cells[0], store) == CellStatus::Done);
  CHECK(store.selection(ex.cells[0].id())->ids.size() == 6);  // round(0.2 * 10) per class
}
