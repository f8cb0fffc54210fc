// The TSV reader (pandas' quoting) and the fakeddit loader.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "datasets/image_encode.h"
#include "datasets/tsv.h"
#include "test_datasets_helpers.h"
#include "test_helpers.h"

using namespace dq;
using namespace dq::test;
namespace fs = std::filesystem;

namespace {

const std::string kHeader =
    "\tauthor\tclean_title\tcreated_utc\tdomain\thasImage\tid\timage_url\tlinked_submission_id\tnum_comments\tscore\t"
    "subreddit\ttitle\tupvote_ratio\t2_way_label\t3_way_label\t6_way_label\n";

// Row with the given id, hasImage, image_url, title (already quoted if need be) and labels.
std::string row(int index, const std::string& id, const std::string& has_image, const std::string& url,
                const std::string& title, const std::string& labels) {
  return std::to_string(index) + "\tsomeone\tclean\t1551641000.0\ti.imgur.com\t" + has_image + "\t" + id + "\t" + url +
         "\t\t2.0\t12\tmildlyinteresting\t" + title + "\t0.84\t" + labels + "\n";
}

fs::path make_fakeddit(const std::string& name) {
  const fs::path root = scratch_dir(name);
  std::string train = kHeader;
  train += row(0, "awxhir", "True", "https://i.imgur.com/a.jpg", "My Walgreens offbrand Mucinex", "1\t0\t0");
  train += row(1, "b1", "True", "https://i.imgur.com/b.jpg", "\"He said \"\"hi\"\"\tthen\nleft\"", "0\t2\t4");
  train += row(2, "c2", "False", "", "no image here", "0\t1\t1");
  train += row(3, "d3", "True", "https://i.imgur.com/d.jpg", "image never downloaded", "0\t1\t5");
  train += "4\t\t\t\t\tTrue\te4\thttps://x/e.jpg\t\t\t\t\t\t\t1.0\t0\t0\n";  // empty values, float label
  write_text_file(root / "multimodal_train.tsv", train);
  write_text_file(root / "multimodal_test_public.tsv", kHeader + row(0, "t1", "True", "u", "t", "0\t2\t3"));
  write_text_file(root / "multimodal_validate.tsv", kHeader + row(0, "v1", "True", "u", "v", "1\t0\t0") +
                                                   row(1, "awxhir", "True", "u", "v", "1\t0\t0"));
  write_bytes(root / "public_image_set/awxhir.jpg", tagged_png(10, 4));
  write_bytes(root / "public_image_set/b1.jpg", tagged_png(20, 4));
  write_bytes(root / "public_image_set/c2.jpg", tagged_png(30, 4));  // present, but the row says hasImage False
  write_bytes(root / "public_image_set/e4.jpg", tagged_png(40, 4));
  write_bytes(root / "public_image_set/t1.jpg", tagged_png(50, 4));
  write_bytes(root / "public_image_set/v1.jpg", tagged_png(60, 4));
  return root;
}

KeyValues with(const fs::path& root, const KeyValues& extra) {
  return joined({{"path", root.string()}, {"image_size", "4"}}, extra);
}

}  // namespace

TEST_CASE("TSV reader: pandas quoting, empty values, CRLF, line numbers", "[datasets]") {
  const fs::path dir = scratch_dir("tsv_reader");
  write_text_file(dir / "a.tsv", "\tid\ttitle\r\n0\tx\t\"tab\there, \"\"quoted\"\"\nand a newline\"\r\n\n1\t\t\r\n2\ty\tplain");
  TsvReader tsv((dir / "a.tsv").string());
  CHECK(tsv.header() == std::vector<std::string>{"", "id", "title"});
  CHECK(tsv.column("title") == 2);
  CHECK(tsv.column("") == 0);
  std::vector<std::string> f;
  REQUIRE(tsv.next(f));
  CHECK(f == std::vector<std::string>{"0", "x", "tab\there, \"quoted\"\nand a newline"});
  CHECK(tsv.line() == 2);
  REQUIRE(tsv.next(f));
  CHECK(f == std::vector<std::string>{"1", "", ""});
  CHECK(tsv.line() == 5);  // the quoted newline and the blank line count
  REQUIRE(tsv.next(f));
  CHECK(f == std::vector<std::string>{"2", "y", "plain"});  // no final newline
  CHECK(tsv.row() == 3);
  CHECK_FALSE(tsv.next(f));
  CHECK_THROWS_WITH(tsv.column("label"), Catch::Contains("a.tsv:1") && Catch::Contains("'label'") && Catch::Contains("<empty>, id, title"));

  write_text_file(dir / "b.tsv", "a\tb\n1\t\"open\n2\t3\n");
  TsvReader open_quote((dir / "b.tsv").string());
  CHECK_THROWS_WITH(open_quote.next(f), Catch::Contains("b.tsv:2") && Catch::Contains("never closed"));
  write_text_file(dir / "c.tsv", "a\tb\n1\t2\n1\t2\t3\n");
  TsvReader ragged((dir / "c.tsv").string());
  CHECK(ragged.next(f));
  CHECK_THROWS_WITH(ragged.next(f), Catch::Contains("c.tsv:3") && Catch::Contains("3 fields, the header has 2"));
}

TEST_CASE("fakeddit: rows with images, labels by column name, skipped rows counted", "[datasets]") {
  const fs::path root = make_fakeddit("fakeddit_ok");
  const Dataset d = load_with("fakeddit", with(root, {}));
  CHECK(d.class_names == std::vector<std::string>{"fake", "true"});
  CHECK(red_tags(d.train) == std::vector<int>{10, 20, 40});
  CHECK(d.train.labels == std::vector<int64_t>{1, 0, 1});
  CHECK(d.load_report.at("train_rows") == 5);
  CHECK(d.load_report.at("train_rows_without_image") == 1);
  CHECK(d.load_report.at("train_rows_image_file_missing") == 1);
  CHECK(d.load_report.at("test_rows") == 1);
  CHECK(red_tags(d.test) == std::vector<int>{50});

  const Dataset six = load_with("fakeddit", with(root, {{"label", "6_way"}, {"test_split", "validate"}}));
  CHECK(six.class_names.size() == 6);
  CHECK(six.class_names[4] == "manipulated_content");
  CHECK(six.train.labels == std::vector<int64_t>{0, 4, 0});
  CHECK(red_tags(six.test) == std::vector<int>{60, 10});
  const Dataset three = load_with("fakeddit", with(root, {{"label", "3_way"}, {"max_per_class", "1"}}));
  CHECK(three.train.labels == std::vector<int64_t>{0, 2});
  CHECK(three.load_report.at("train_rows_over_class_cap") == 1);
}

TEST_CASE("fakeddit errors name the file, line and column", "[datasets]") {
  const fs::path root = make_fakeddit("fakeddit_errors");
  SECTION("missing label column") {
    write_text_file(root / "multimodal_test_public.tsv", "\tid\thasImage\t2_way_label\n0\tt1\tTrue\t1\n");
    CHECK_THROWS_WITH(load_with("fakeddit", with(root, {{"label", "6_way"}})),
                      Catch::Contains("multimodal_test_public.tsv:1") && Catch::Contains("'6_way_label'"));
  }
  SECTION("label out of range") {
    write_text_file(root / "multimodal_test_public.tsv", kHeader + row(0, "t1", "True", "u", "t", "1\t0\t0") +
                                                        row(1, "t2", "True", "u", "t", "2\t0\t0"));
    CHECK_THROWS_WITH(load_with("fakeddit", with(root, {})),
                      Catch::Contains("multimodal_test_public.tsv:3") && Catch::Contains("2_way_label '2'") &&
                          Catch::Contains("0..1"));
  }
  SECTION("a label that is an integer no int64 holds") {  // its conversion was undefined (fuzzing)
    write_text_file(root / "multimodal_test_public.tsv", kHeader + row(0, "t1", "True", "u", "t", "1e300\t0\t0"));
    CHECK_THROWS_WITH(load_with("fakeddit", with(root, {})),
                      Catch::Contains("multimodal_test_public.tsv:2") && Catch::Contains("2_way_label '1e300'"));
  }
  SECTION("zero-byte image: error or skipped and counted") {
    write_bytes(root / "public_image_set/awxhir.jpg", {});
    CHECK_THROWS_WITH(load_with("fakeddit", with(root, {})), Catch::Contains("awxhir.jpg") && Catch::Contains("0 bytes"));
    const Dataset d = load_with("fakeddit", with(root, {{"on_bad_image", "skip"}}));
    CHECK(red_tags(d.train) == std::vector<int>{20, 40});
    CHECK(d.load_report.at("train_bad_images_skipped") == 1);
  }
  SECTION("skipping the only image of a class is an error naming the class and the file") {
    write_bytes(root / "public_image_set/b1.jpg", {});  // the one 'fake' training image
    CHECK_THROWS_WITH(load_with("fakeddit", with(root, {{"on_bad_image", "skip"}})),
                      "train split: class 'fake' holds no usable image: on_bad_image: skip dropped all 1 of its files: " +
                          (root / "public_image_set/b1.jpg").string() + ": empty image file (0 bytes)");
  }
  SECTION("a split left with no row with an image is an error, as an emptied class folder is") {
    // Before: an empty test split made a run skip training and record the cell DONE without accuracy.
    fs::remove(root / "public_image_set/t1.jpg");
    CHECK_THROWS_WITH(load_with("fakeddit", with(root, {})),
                      (root / "multimodal_test_public.tsv").string() + ": the test split holds no row with an image "
                          "(of 1 rows, 0 without an image, 1 whose file is missing in " +
                          (root / "public_image_set").string() + ")");
  }
  SECTION("missing TSV") {
    fs::remove(root / "multimodal_train.tsv");
    CHECK_THROWS_WITH(load_with("fakeddit", with(root, {})), Catch::Contains("multimodal_train.tsv"));
  }
}
