// The `indices` method (methods/indices.cpp, methods/coreset_files.h): a coreset read from files is
// checked row by row against the training split, held to the cell's storage budget per class and in
// total unless `budget: free`, and identified by its files' content.
#include <catch2/catch.hpp>
#include <filesystem>

#include "core/error.h"
#include "core/npy.h"
#include "harness/experiment.h"
#include "methods/class_partition.h"
#include "methods/coreset_files.h"
#include "methods/method.h"
#include "test_helpers.h"

using namespace dq;
namespace fs = std::filesystem;

namespace {

// 3 classes x 10 samples: id i has label i % 3 (class c holds ids c, c + 3, ...).
struct Toy {
  std::vector<int64_t> labels;
  ClassPartition part;
  Toy() {
    for (int64_t i = 0; i < 30; ++i) labels.push_back(i % 3);
    part = partition_by_class(nullptr, 0, labels, 3);
  }
};

MethodSpec indices_spec(const std::map<std::string, std::string>& values) {
  const auto& info = MethodRegistry::instance().find("indices", "test");
  MethodSpec spec{"indices", Params("method 'indices'", info.params)};
  for (const auto& [k, v] : values) spec.params.set_from_text(k, v, "test");
  return spec;
}

std::vector<ClassSelection> run(const MethodSpec& spec, double ratio) {
  Toy toy;
  MemoryBudget memory(1ull << 30);
  StageTimer timer;
  SelectContext ctx{ratio, 7, memory, timer, {}};
  return spec.instantiate()->select(toy.part.views, ctx);
}

// The error `run` throws, or "" when it selects.
std::string error_of(const MethodSpec& spec, double ratio) {
  try {
    run(spec, ratio);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string ids_file(const fs::path& dir, const std::string& name, const std::vector<int64_t>& ids) {
  const std::string path = (dir / name).string();
  write_npy(path, ids.data(), {static_cast<int64_t>(ids.size())});
  return path;
}

}  // namespace

TEST_CASE("indices: a coreset from files is split by class in file order, with its keep fractions", "[indices]") {
  const auto dir = test::scratch_dir("indices_ok");
  const std::string sel = ids_file(dir, "sel.npy", {4, 0, 9, 3});  // classes 1, 0, 0, 0
  const std::vector<float> keep = {0.5f, 1.0f, 0.75f, 0.25f};
  write_npy((dir / "keep.npy").string(), keep.data(), {4});
  const auto out = run(indices_spec({{"file", sel}, {"keep", (dir / "keep.npy").string()}}), 0.2);
  REQUIRE(out.size() == 3);
  CHECK(out[0].ids == std::vector<int64_t>{0, 9, 3});
  CHECK(out[0].keep == std::vector<float>{1.0f, 0.75f, 0.25f});
  CHECK(out[1].ids == std::vector<int64_t>{4});
  CHECK(out[1].keep == std::vector<float>{0.5f});
  CHECK(out[2].ids.empty());
  CHECK(out[0].masks.empty());
}

TEST_CASE("indices: malformed files are refused naming the file and the row", "[indices]") {
  const auto dir = test::scratch_dir("indices_bad");
  auto fails = [&](const std::map<std::string, std::string>& params, double ratio, const std::string& path,
                   const std::vector<std::string>& words) {
    const std::string msg = error_of(indices_spec(params), ratio);
    INFO(msg);
    CHECK(msg.find(path) != std::string::npos);
    for (const auto& w : words) CHECK(msg.find(w) != std::string::npos);
  };
  const std::string range = ids_file(dir, "range.npy", {0, 30});
  fails({{"file", range}}, 0.5, range, {"row 1", "id 30", "outside the training split (ids 0..29)"});
  const std::string negative = ids_file(dir, "negative.npy", {-1});
  fails({{"file", negative}}, 0.5, negative, {"row 0", "id -1"});
  const std::string twice = ids_file(dir, "twice.npy", {3, 6, 3});
  fails({{"file", twice}}, 0.5, twice, {"rows 0 and 2", "id 3 appears twice"});
  const std::vector<int32_t> narrow = {1, 2};
  write_npy((dir / "int32.npy").string(), narrow.data(), {2});
  fails({{"file", (dir / "int32.npy").string()}}, 0.5, (dir / "int32.npy").string(), {"dtype 'i4'", "int64"});
  const std::vector<double> floats = {1, 2};
  write_npy((dir / "float.npy").string(), floats.data(), {2});
  fails({{"file", (dir / "float.npy").string()}}, 0.5, (dir / "float.npy").string(), {"dtype 'f8'"});
  const std::vector<int64_t> square = {1, 2, 3, 4};
  write_npy((dir / "2d.npy").string(), square.data(), {2, 2});
  fails({{"file", (dir / "2d.npy").string()}}, 0.5, (dir / "2d.npy").string(), {"1-D"});

  const std::string two = ids_file(dir, "two.npy", {0, 1});
  const std::vector<float> big = {1.0f, 1.5f};
  write_npy((dir / "keep_big.npy").string(), big.data(), {2});
  fails({{"file", two}, {"keep", (dir / "keep_big.npy").string()}}, 0.5, (dir / "keep_big.npy").string(),
        {"row 1", "outside (0, 1]"});
  const std::vector<double> keep64 = {1.0, 1.0};
  write_npy((dir / "keep64.npy").string(), keep64.data(), {2});
  fails({{"file", two}, {"keep", (dir / "keep64.npy").string()}}, 0.5, (dir / "keep64.npy").string(), {"float32"});
  const std::vector<float> three = {1, 1, 1};
  write_npy((dir / "keep3.npy").string(), three.data(), {3});
  fails({{"file", two}, {"keep", (dir / "keep3.npy").string()}}, 0.5, (dir / "keep3.npy").string(), {"3 rows"});

  // Masks: shape, values, an empty row, and keep that disagrees with them.
  const std::vector<uint8_t> masks = {1, 1, 0, 0, 1, 0, 0, 0};  // 2 x 4: keeps 2/4 and 1/4
  write_npy_bool((dir / "masks.npy").string(), masks.data(), {2, 4});
  const std::vector<float> agree = {0.5f, 0.25f}, disagree = {0.5f, 0.5f};
  write_npy((dir / "agree.npy").string(), agree.data(), {2});
  write_npy((dir / "disagree.npy").string(), disagree.data(), {2});
  fails({{"file", two}, {"masks", (dir / "masks.npy").string()}, {"keep", (dir / "disagree.npy").string()}}, 0.5,
        (dir / "masks.npy").string(), {"row 1", "keeps 1 of 4 patches", "disagree"});
  const std::vector<uint8_t> empty_row = {1, 1, 0, 0, 0, 0, 0, 0};
  write_npy((dir / "empty_row.npy").string(), empty_row.data(), {2, 4});
  fails({{"file", two}, {"masks", (dir / "empty_row.npy").string()}}, 0.5, (dir / "empty_row.npy").string(),
        {"row 1", "every patch is dropped"});
  const std::vector<uint8_t> twos = {1, 2, 1, 1, 1, 1, 1, 1};
  write_npy((dir / "twos.npy").string(), twos.data(), {2, 4});
  fails({{"file", two}, {"masks", (dir / "twos.npy").string()}}, 0.5, (dir / "twos.npy").string(), {"row 0 patch 1"});
  write_npy_bool((dir / "masks3.npy").string(), masks.data(), {1, 8});
  fails({{"file", two}, {"masks", (dir / "masks3.npy").string()}}, 0.5, (dir / "masks3.npy").string(), {"(1, 8)"});
  const auto ok = run(
      indices_spec({{"file", two}, {"masks", (dir / "masks.npy").string()}, {"keep", (dir / "agree.npy").string()}}),
      0.5);
  CHECK(ok[0].masks == std::vector<uint8_t>{1, 1, 0, 0});
  CHECK(ok[1].keep == std::vector<float>{0.25f});

  // A file that does not exist fails when the method is built.
  CHECK_THROWS_WITH(indices_spec({{"file", (dir / "missing.npy").string()}}).instantiate(),
                    Catch::Contains("missing.npy") && Catch::Contains("does not exist"));
}

TEST_CASE("indices: over the storage budget (in total or in one class) is refused unless budget: free", "[indices]") {
  const auto dir = test::scratch_dir("indices_budget");
  // Ratio 0.2 of 10 per class: at most 2.5 images of storage per class, 7.5 in total.
  const std::string fits = ids_file(dir, "fits.npy", {0, 3, 1, 4, 2, 5});
  CHECK(error_of(indices_spec({{"file", fits}}), 0.2).empty());
  const std::string total = ids_file(dir, "total.npy", {0, 3, 1, 4, 2, 5, 6, 7});
  const std::string msg = error_of(indices_spec({{"file", total}}), 0.2);
  CHECK_THAT(msg, Catch::Contains(total) && Catch::Contains("stores 8 images") &&
                      Catch::Contains("budget at ratio 0.2 is 7.5") && Catch::Contains("budget: free"));
  // 6 images in total fit, but class 0 holds 3 of them: the fourth row is where it goes over.
  const std::string skewed = ids_file(dir, "skewed.npy", {0, 1, 3, 6, 2, 4});
  const std::string skew_msg = error_of(indices_spec({{"file", skewed}}), 0.2);
  CHECK_THAT(skew_msg,
             Catch::Contains(skewed + " row 3") && Catch::Contains("class 0") && Catch::Contains("class balance"));
  // Half images: keep 0.5 on four class-0 picks is 2 images of storage.
  const std::string half = ids_file(dir, "half.npy", {0, 3, 6, 9});
  const std::vector<float> halves(4, 0.5f);
  write_npy((dir / "halves.npy").string(), halves.data(), {4});
  CHECK(error_of(indices_spec({{"file", half}, {"keep", (dir / "halves.npy").string()}}), 0.2).empty());
  // budget: free lifts both checks, and tables name the row so.
  const MethodSpec free = indices_spec({{"file", total}, {"budget", "free"}, {"label", "theirs"}});
  CHECK(error_of(free, 0.2).empty());
  CHECK(free.display() == "theirs [budget: free]");
  CHECK(indices_spec({{"file", total}}).display() == "total");
}

TEST_CASE("indices: an export folder is read as is, and its labels must be this dataset's", "[indices]") {
  const auto dir = test::scratch_dir("indices_folder");
  ids_file(dir, coreset_file::kIndices, {1, 5, 9});
  const std::vector<float> keep = {1.0f, 0.5f, 1.0f};
  write_npy((dir / coreset_file::kKeep).string(), keep.data(), {3});
  const std::vector<uint8_t> masks = {1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1};
  write_npy_bool((dir / coreset_file::kMasks).string(), masks.data(), {3, 4});
  std::vector<int64_t> labels = {1, 2, 0};
  write_npy((dir / coreset_file::kLabels).string(), labels.data(), {3});
  const auto out = run(indices_spec({{"file", dir.string()}}), 0.5);
  CHECK(out[0].ids == std::vector<int64_t>{9});
  CHECK(out[2].ids == std::vector<int64_t>{5});
  CHECK(out[2].masks == std::vector<uint8_t>{0, 1, 0, 1});
  CHECK(indices_spec({{"file", dir.string() + "/"}}).display() == "indices_folder");
  labels[1] = 1;
  write_npy((dir / coreset_file::kLabels).string(), labels.data(), {3});
  CHECK_THAT(error_of(indices_spec({{"file", dir.string()}}), 0.5),
             Catch::Contains(coreset_file::kLabels) && Catch::Contains("row 1") &&
                 Catch::Contains("id 5 has label 1 there but 2"));
  fs::create_directories(dir / "empty");
  CHECK_THROWS_WITH(indices_spec({{"file", (dir / "empty").string()}}).instantiate(),
                    Catch::Contains("without indices.npy"));
}

TEST_CASE("indices: the files' content is part of the cell id, and a change after reading is refused", "[indices]") {
  const auto dir = test::scratch_dir("indices_identity");
  const std::string sel = ids_file(dir, "sel.npy", {0, 1, 2});
  const std::string yaml = (dir / "x.yaml").string();
  test::write_text(yaml,
                   "datasets: {fm: {kind: fashion_mnist, path: /x}}\ntrain: none\n"
                   "grid: {method: [{name: indices, file: " +
                       sel + "}], ratio: [0.5]}\n");
  const Experiment a = load_experiment(yaml);
  REQUIRE(a.cells.size() == 1);
  const std::string pinned = a.cells[0].method.params.get_string("sha256");
  CHECK(pinned.size() == 64);
  CHECK(a.cells[0].canonical_json().find(pinned) != std::string::npos);
  // Same path, other content: another cell.
  ids_file(dir, "sel.npy", {0, 1, 5});
  const Experiment b = load_experiment(yaml);
  CHECK(b.cells[0].id() != a.cells[0].id());
  // The experiment as first read now meets other bytes: refused at select time, never trained on.
  CHECK_THAT(error_of(a.cells[0].method, 0.5), Catch::Contains("changed after the experiment was read"));
  // A hash written in the file must match.
  test::write_text(yaml,
                   "datasets: {fm: {kind: fashion_mnist, path: /x}}\ntrain: none\n"
                   "grid: {method: [{name: indices, file: " +
                       sel + ", sha256: " + pinned + "}], ratio: [0.5]}\n");
  CHECK_THROWS_WITH(load_experiment(yaml), Catch::Contains(yaml) && Catch::Contains("not the " + pinned));
}
