// The imagenet loader: class order by sorted WNID, flat val with each kind of label file, and the
// ILSVRC2012_ID trap.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/error.h"
#include "datasets/image_encode.h"
#include "datasets/imagenet_labels.h"
#include "test_datasets_helpers.h"
#include "test_helpers.h"

using namespace dq;
using namespace dq::test;
namespace fs = std::filesystem;

namespace {

// train: n01440764 (tags 1, 2), n01443537 (tag 3), n15075141 (tag 4, a CMYK JPEG).
// val (flat): ILSVRC2012_val_0000000{1..4}.JPEG, tags 101..104, all PNG bytes under a .JPEG name.
// The devkit-style IDs deliberately differ from the sorted order: ID 1 = n15075141 (sorted index 2),
// ID 2 = n01440764 (0), ID 3 = n01443537 (1). Ground truth IDs 1, 2, 3, 1 -> labels 2, 0, 1, 2.
fs::path make_imagenet(const std::string& name) {
  const fs::path root = scratch_dir(name);
  write_bytes(root / "train/n01440764/n01440764_10026.JPEG", tagged_png(1, 6));
  write_bytes(root / "train/n01440764/n01440764_20.JPEG", tagged_png(2, 6));
  write_bytes(root / "train/n01443537/n01443537_7.JPEG", tagged_png(3, 6));
  std::vector<uint8_t> cmyk;
  for (int i = 0; i < 64; ++i) cmyk.insert(cmyk.end(), {4, 100, 100, 255});
  write_bytes(root / "train/n15075141/n15075141_1.JPEG", encode_jpeg(cmyk.data(), 8, 8, 4, 98));
  for (int k = 1; k <= 4; ++k) write_bytes(root / fmt::format("val/ILSVRC2012_val_{:08}.JPEG", k), tagged_png(uint8_t(100 + k), 6));
  write_text_file(root / "synsets.txt", "1 n15075141 toilet tissue\n2 n01440764 tench, Tinca tinca\n3 n01443537 goldfish\n");
  write_text_file(root / "gt.txt", "1\n2\n3\n1\n");
  write_text_file(root / "val.txt",
             "ILSVRC2012_val_00000001.JPEG 2\nILSVRC2012_val_00000002.JPEG 0\nILSVRC2012_val_00000003.JPEG 1\n"
             "ILSVRC2012_val_00000004.JPEG 2\n");
  write_text_file(root / "synset_words.txt", "n01440764 tench\nn01443537 goldfish\nn15075141 toilet tissue\n");
  write_text_file(root / "LOC_val_solution.csv",
             "ImageId,PredictionString\nILSVRC2012_val_00000003,n01443537 1 2 3 4\n"
             "ILSVRC2012_val_00000001,n15075141 5 5 9 9 n15075141 1 1 2 2\nILSVRC2012_val_00000002,n01440764 0 0 1 1\n"
             "ILSVRC2012_val_00000004,n15075141 0 0 3 3\n");
  return root;
}

KeyValues with(const fs::path& root, const KeyValues& extra) {
  return joined({{"path", root.string()}, {"image_size", "6"}}, extra);
}

}  // namespace

TEST_CASE("imagenet: flat val labels go through the ID -> WNID map, not the ID order", "[datasets]") {
  const fs::path root = make_imagenet("imagenet_flat");
  const std::string r = root.string();
  const Dataset gt = load_with("imagenet", with(root, {{"val_ground_truth", r + "/gt.txt"}, {"synsets", r + "/synsets.txt"}}));
  CHECK(gt.class_names == std::vector<std::string>{"n01440764", "n01443537", "n15075141"});
  CHECK(gt.train.labels == std::vector<int64_t>{0, 0, 1, 2});
  CHECK(red_tags(gt.train)[0] == 1);  // n01440764_10026 sorts before n01440764_20
  CHECK(red_tags(gt.train)[1] == 2);
  CHECK(std::abs(pixel(gt.train, 3, 0, 3, 3) - 4) <= 3);  // the CMYK JPEG, inverted (4, 100, 100, 255)
  CHECK(std::abs(pixel(gt.train, 3, 1, 3, 3) - 100) <= 3);
  CHECK(gt.test.labels == std::vector<int64_t>{2, 0, 1, 2});
  CHECK(red_tags(gt.test) == std::vector<int>{101, 102, 103, 104});

  const Dataset caffe = load_with("imagenet", with(root, {{"val_txt", r + "/val.txt"}, {"synset_words", r + "/synset_words.txt"}}));
  CHECK(caffe.test.labels == gt.test.labels);
  const Dataset kaggle = load_with("imagenet", with(root, {{"val_solution_csv", r + "/LOC_val_solution.csv"}}));
  CHECK(kaggle.test.labels == gt.test.labels);

  const Dataset capped = load_with("imagenet", with(root, {{"val_ground_truth", r + "/gt.txt"}, {"synsets", r + "/synsets.txt"},
                                                           {"max_per_class", "1"}, {"max_test_per_class", "1"}}));
  CHECK(capped.train.labels == std::vector<int64_t>{0, 1, 2});
  CHECK(capped.test.labels == std::vector<int64_t>{2, 0, 1});
}

TEST_CASE("imagenet: prepared val/<wnid>/ layout", "[datasets]") {
  const fs::path root = make_imagenet("imagenet_folders");
  fs::remove_all(root / "val");
  write_bytes(root / "val/n15075141/ILSVRC2012_val_00000001.JPEG", tagged_png(101, 6));
  write_bytes(root / "val/n01440764/ILSVRC2012_val_00000002.JPEG", tagged_png(102, 6));
  const Dataset d = load_with("imagenet", with(root, {}));
  CHECK(d.test.labels == std::vector<int64_t>{0, 2});
  CHECK(red_tags(d.test) == std::vector<int>{102, 101});
}

TEST_CASE("imagenet: label-file errors name the file and what was expected", "[datasets]") {
  const fs::path root = make_imagenet("imagenet_errors");
  const std::string r = root.string();
  SECTION("ground truth without the ID map") {
    CHECK_THROWS_WITH(load_with("imagenet", with(root, {{"val_ground_truth", r + "/gt.txt"}})), Catch::Contains("synsets"));
  }
  SECTION("no label source for a flat val folder") {
    CHECK_THROWS_WITH(load_with("imagenet", with(root, {})), Catch::Contains("exactly one label source"));
  }
  SECTION("ground truth too short") {
    write_text_file(root / "gt.txt", "1\n2\n");
    CHECK_THROWS_WITH(load_with("imagenet", with(root, {{"val_ground_truth", r + "/gt.txt"}, {"synsets", r + "/synsets.txt"}})),
                      Catch::Contains("gt.txt") && Catch::Contains("ILSVRC2012_val_00000003.JPEG"));
  }
  SECTION("a WNID with no train folder") {
    write_text_file(root / "synsets.txt", "1 n09999999\n2 n01440764\n3 n01443537\n");
    CHECK_THROWS_WITH(load_with("imagenet", with(root, {{"val_ground_truth", r + "/gt.txt"}, {"synsets", r + "/synsets.txt"}})),
                      Catch::Contains("n09999999"));
  }
  SECTION("synset_words in another order than the train folders") {
    write_text_file(root / "synset_words.txt", "n15075141 toilet tissue\nn01440764 tench\nn01443537 goldfish\n");
    CHECK_THROWS_WITH(load_with("imagenet", with(root, {{"val_txt", r + "/val.txt"}, {"synset_words", r + "/synset_words.txt"}})),
                      Catch::Contains("synset_words.txt"));
  }
  SECTION("malformed synsets line") {
    write_text_file(root / "synsets.txt", "1 n15075141\nfoo bar\n");
    CHECK_THROWS_WITH(load_with("imagenet", with(root, {{"val_ground_truth", r + "/gt.txt"}, {"synsets", r + "/synsets.txt"}})),
                      Catch::Contains("synsets.txt:2"));
  }
}

TEST_CASE("imagenet label-file readers", "[datasets]") {
  const fs::path dir = scratch_dir("imagenet_readers");
  write_text_file(dir / "wnids.txt", "n15075141\nn01440764\n");  // plain WNID per line: line i = ID i
  const auto ids = read_synset_ids((dir / "wnids.txt").string());
  CHECK(ids.at(1) == "n15075141");
  CHECK(ids.at(2) == "n01440764");
  CHECK(ilsvrc_val_number("ILSVRC2012_val_00050000.JPEG") == 50000);
  CHECK(ilsvrc_val_number("n01440764_1.JPEG") == -1);
}
