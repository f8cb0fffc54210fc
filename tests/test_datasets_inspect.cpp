// `dqbench datasets inspect`: spec strings, experiment YAML files, errors, the CLI wiring.
#include <catch2/catch.hpp>

#include <CLI/CLI.hpp>
#include <functional>
#include <sstream>

#include "core/error.h"
#include "datasets/image_encode.h"
#include "harness/datasets_command.h"
#include "harness/experiment.h"
#include "test_datasets_helpers.h"
#include "test_helpers.h"

using namespace dq;
using namespace dq::test;
namespace fs = std::filesystem;

namespace {
// The whitespace-separated tokens of the first output line whose first token is `first`.
std::vector<std::string> row_of(const std::string& text, const std::string& first) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream in(line);
    std::vector<std::string> tokens;
    for (std::string t; in >> t;) tokens.push_back(t);
    if (!tokens.empty() && tokens[0] == first) return tokens;
  }
  return {};
}
}  // namespace

TEST_CASE("inspect a spec string: counts per class and split", "[datasets]") {
  const std::string out =
      inspect_datasets("synthetic_images(classes=3,train_per_class=4,test_per_class=2,image_size=8)", "");
  CHECK(row_of(out, "class_001") == std::vector<std::string>{"class_001", "4", "2"});
  CHECK(row_of(out, "total") == std::vector<std::string>{"total", "12", "6"});
  CHECK_THAT(out, Catch::Contains("images: 3 channel(s) x 8 x 8"));
  CHECK_THAT(out, Catch::Contains("cache: none"));
}

TEST_CASE("inspect an experiment YAML: every dataset, cache status on the second run", "[datasets]") {
  const fs::path dir = scratch_dir("inspect_yaml");
  std::vector<uint8_t> px(4 * 4 * 3, 9);
  for (const char* f : {"train/x/1.png", "train/x/2.png", "train/y/3.png", "test/y/4.png"})
    write_bytes(dir / "imgs" / f, encode_png(px.data(), 4, 4, 3));
  const fs::path yaml = dir / "exp.yaml";
  write_text_file(yaml, "name: t\ndatasets:\n  syn: {kind: synthetic_images, classes: 2, train_per_class: 3, test_per_class: 1}\n"
                   "  folder:\n    kind: image_folder\n    path: " + (dir / "imgs").string() + "\n    image_size: 4\n"
                   "grid: {dataset: [syn]}\n");
  const auto defs = parse_dataset_definitions(yaml.string());
  REQUIRE(defs.size() == 2);
  CHECK(defs[1].name == "folder");
  CHECK(defs[1].params.get_int("image_size") == 4);
  CHECK_THAT(defs[1].where, Catch::Contains("exp.yaml:4:"));
  const std::string cache = (dir / "cache").string();
  const std::string first = inspect_datasets(yaml.string(), cache);
  CHECK(row_of(first, "x") == std::vector<std::string>{"x", "2", "0"});
  CHECK(row_of(first, "y") == std::vector<std::string>{"y", "1", "1"});
  CHECK_THAT(first, Catch::Contains("not cached"));
  const std::string second = inspect_datasets(yaml.string(), cache);
  CHECK_THAT(second, Catch::Contains("cache: cached ("));
  CHECK_THAT(second, !Catch::Contains("not cached"));
}

TEST_CASE("inspect errors name the file, line and key", "[datasets]") {
  const fs::path dir = scratch_dir("inspect_errors");
  write_text_file(dir / "a.yaml", "datasets:\n  d: {kind: synthetic_images, clases: 3}\n");
  CHECK_THROWS_WITH(parse_dataset_definitions((dir / "a.yaml").string()),
                    Catch::Contains("a.yaml:2:") && Catch::Contains("'clases'"));
  write_text_file(dir / "b.yaml", "datasets:\n  d: {kind: cifar11}\n");
  CHECK_THROWS_WITH(parse_dataset_definitions((dir / "b.yaml").string()),
                    Catch::Contains("b.yaml:2:") && Catch::Contains("cifar11") && Catch::Contains("image_folder"));
  write_text_file(dir / "c.yaml", "name: x\n");
  CHECK_THROWS_WITH(parse_dataset_definitions((dir / "c.yaml").string()), Catch::Contains("datasets:"));
  CHECK_THROWS_WITH(parse_dataset_definitions("synthetic_images(classes=x)"), Catch::Contains("classes"));
  CHECK_THROWS_WITH(parse_dataset_definitions((dir / "missing.yaml").string()), Catch::Contains("missing.yaml"));
}

TEST_CASE("run and inspect read the datasets: section through one parser", "[datasets]") {
  // Before: harness/experiment.cpp and the inspect command each had a parser and a struct of their own.
  const fs::path dir = scratch_dir("inspect_same_parser");
  const fs::path yaml = dir / "exp.yaml";
  write_text_file(yaml, "name: same\ndatasets:\n"
                   "  a: {kind: synthetic_embeddings, classes: 2, per_class: 3, dim: 4}\n"
                   "  b: {kind: synthetic_images, classes: 3, train_per_class: 2}\n"
                   "grid: {dataset: [a, b], method: [random], ratio: [0.5]}\n");
  const auto defs = parse_dataset_definitions(yaml.string());
  const Experiment ex = load_experiment(yaml.string());
  REQUIRE(defs.size() == 2);
  REQUIRE(ex.cells.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const DatasetDefinition& cell_dataset = ex.cells[i].dataset;
    CHECK(cell_dataset.name == defs[i].name);
    CHECK(cell_dataset.kind == defs[i].kind);
    CHECK(cell_dataset.params.canonical() == defs[i].params.canonical());
    CHECK(cell_dataset.where == defs[i].where);
  }
  CHECK(defs[0].where == yaml.string() + ":3:3 (dataset 'a')");
  CHECK(defs[1].params.get_int("classes") == 3);

  // The same errors for both commands, naming the file, line and key.
  write_text_file(dir / "d.yaml", "datasets:\n  d: [1, 2]\ngrid: {method: [random], ratio: [0.5]}\n");
  write_text_file(dir / "e.yaml", "datasets:\n  d: {kind: [a, b]}\ngrid: {method: [random], ratio: [0.5]}\n");
  const std::string d = (dir / "d.yaml").string(), e = (dir / "e.yaml").string();
  for (const auto& load : std::vector<std::function<void()>>{[&] { parse_dataset_definitions(d); },
                                                             [&] { load_experiment(d); }})
    CHECK_THROWS_WITH(load(), d + ":2:3 (dataset 'd'): a dataset needs a mapping with 'kind', e.g. {kind: fashion_mnist}");
  for (const auto& load : std::vector<std::function<void()>>{[&] { parse_dataset_definitions(e); },
                                                             [&] { load_experiment(e); }})
    CHECK_THROWS_WITH(load(), e + ":2:13 (key 'kind'): expected a single value");
}

TEST_CASE("the datasets sub-command runs inspect and list", "[datasets]") {
  CLI::App app("dqbench");
  add_datasets_command(app);
  std::ostringstream captured;
  auto* old = std::cout.rdbuf(captured.rdbuf());
  try {
    app.parse(std::vector<std::string>{"--no-cache", "synthetic_images(classes=2,train_per_class=1,test_per_class=1)",
                                       "inspect", "datasets"});  // CLI11 takes the vector in reverse
    app.parse(std::vector<std::string>{"list", "datasets"});
  } catch (...) {
    std::cout.rdbuf(old);
    throw;
  }
  std::cout.rdbuf(old);
  CHECK(row_of(captured.str(), "total") == std::vector<std::string>{"total", "2", "2"});
  // The one printer of parameters (harness/param_docs.h): name, type, default, help, allowed values.
  CHECK_THAT(captured.str(), Catch::Contains("on_bad_image     string = error ") &&
                                 Catch::Contains("counts it in the load report {error|skip}"));
  captured.str("");
  std::cout.rdbuf(captured.rdbuf());
  try {
    app.parse(std::vector<std::string>{"md", "--format", "list", "datasets"});
  } catch (...) {
    std::cout.rdbuf(old);
    throw;
  }
  std::cout.rdbuf(old);
  CHECK_THAT(captured.str(), Catch::Contains("### `synthetic_images`") &&
                                 Catch::Contains("| param | type | default | allowed | meaning |") &&
                                 Catch::Contains("| `on_bad_image` | string | `error` | `error`, `skip` |"));
}
