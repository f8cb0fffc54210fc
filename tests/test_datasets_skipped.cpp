// Issue 11, kind 3: a class (or split) that on_bad_image: skip leaves empty is refused like an empty
// class folder, naming the class and the files that were dropped.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "datasets/image_encode.h"
#include "harness/datasets_command.h"
#include "test_datasets_helpers.h"
#include "test_helpers.h"

using namespace dq;
using namespace dq::test;
namespace fs = std::filesystem;

namespace {
// train/a: one good image; train/c: `c_train` (each 0 bytes when `bad`); test/a, test/c: one good image.
fs::path make_tree(const std::string& name, const std::vector<std::string>& c_train) {
  const fs::path root = scratch_dir(name);
  write_bytes(root / "train/a/1.png", tagged_png(10, 4));
  for (const auto& f : c_train) write_bytes(root / "train/c" / f, {});
  write_bytes(root / "test/a/2.png", tagged_png(20, 4));
  write_bytes(root / "test/c/3.png", tagged_png(30, 4));
  return root;
}

KeyValues skip(const fs::path& root) { return {{"path", root.string()}, {"image_size", "4"}, {"on_bad_image", "skip"}}; }
}  // namespace

TEST_CASE("the issue's example: class c's only train image is empty, on_bad_image: skip", "[hygiene][datasets]") {
  const fs::path root = make_tree("skip_example", {"bad.jpg"});
  const std::string expected = "train split: class 'c' holds no usable image: on_bad_image: skip dropped all 1 of its files: " +
                               (root / "train/c/bad.jpg").string() + ": empty image file (0 bytes)";
  CHECK_THROWS_WITH(load_with("image_folder", skip(root)), expected);
  // `datasets inspect` goes through the same loader: no table with a 0 in it.
  CHECK_THROWS_WITH(inspect_datasets("image_folder(path=" + root.string() + ",image_size=4,on_bad_image=skip)", ""),
                    Catch::Contains(expected));
  // One good image beside the bad one: the class survives, the bad file is counted.
  write_bytes(root / "train/c/good.png", tagged_png(40, 4));
  const Dataset d = load_with("image_folder", skip(root));
  CHECK(d.train.labels == std::vector<int64_t>{0, 1});
  CHECK(d.load_report.at("train_bad_images_skipped") == 1);
}

TEST_CASE("skipping empties a test class or a whole split: the same error", "[hygiene][datasets]") {
  SECTION("a test class") {
    const fs::path root = make_tree("skip_test_class", {});
    write_bytes(root / "train/c/ok.png", tagged_png(50, 4));
    write_bytes(root / "test/a/2.png", {});
    CHECK_THROWS_WITH(load_with("image_folder", skip(root)),
                      "test split: class 'a' holds no usable image: on_bad_image: skip dropped all 1 of its files: " +
                          (root / "test/a/2.png").string() + ": empty image file (0 bytes)");
  }
  SECTION("every train image, several per class: the first class, its files listed") {
    const fs::path root = make_tree("skip_whole_split", {"1.jpg", "2.jpg", "3.jpg", "4.jpg"});
    write_bytes(root / "train/a/1.png", {});
    CHECK_THROWS_WITH(load_with("image_folder", skip(root)), Catch::StartsWith("train split: class 'a' holds no usable image"));
    fs::remove_all(root / "train/a");
    const std::string c = (root / "train/c").string();
    CHECK_THROWS_WITH(load_with("image_folder", skip(root)),
                      "train split: class 'c' holds no usable image: on_bad_image: skip dropped all 4 of its files: " +
                          c + "/1.jpg: empty image file (0 bytes); " + c + "/2.jpg: empty image file (0 bytes); " + c +
                          "/3.jpg: empty image file (0 bytes); and 1 more");
  }
}
