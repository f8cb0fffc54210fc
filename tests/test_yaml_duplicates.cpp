// Issue 11, kind 2: a key given twice in any mapping of a YAML file is an error at its second
// occurrence (yaml-cpp 0.7 keeps both entries: a lookup saw the first, a loop both, the last won).
#include <catch2/catch.hpp>

#include "core/error.h"
#include "harness/datasets_command.h"
#include "harness/experiment.h"
#include "harness/yaml_params.h"
#include "test_helpers.h"

using namespace dq;

namespace {

std::string write_yaml(const std::string& name, const std::string& body) {
  const auto path = test::scratch_dir("dupkey_" + name) / (name + ".yaml");
  test::write_text(path, body);
  return path.string();
}

const char* kHead = "name: t\ndatasets:\n  fm: {kind: fashion_mnist, path: /nonexistent}\ntrain: none\n";  // 4 lines

// load_experiment's message for `body` (which must fail).
std::string error_of(const std::string& name, const std::string& body, std::string& path) {
  path = write_yaml(name, body);
  try {
    load_experiment(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("the issue's example: ratio twice under grid", "[hygiene][experiment]") {
  std::string path;
  const std::string msg =
      error_of("grid", std::string(kHead) + "grid:\n  ratio: [0.1, 0.2]\n  method: [random]\n  ratio: [0.5]\n", path);
  CHECK(msg == path + ":8:3 (key 'ratio'): duplicate key (first at line 6)");
}

TEST_CASE("a duplicate key is refused in every mapping of an experiment", "[hygiene][experiment]") {
  const std::string grid = "grid: {method: [random], ratio: [0.1]}\n";
  struct Case {
    const char* name;
    std::string body, where;
  };
  const std::vector<Case> cases = {
      {"top", std::string(kHead) + grid + "name: u\n", ":6:1 (key 'name'): duplicate key (first at line 1)"},
      {"datasets", "datasets:\n  fm: {kind: fashion_mnist}\n  fm: {kind: cifar10}\n" + grid,
       ":3:3 (key 'fm'): duplicate key (first at line 2)"},
      {"dataset", "datasets:\n  fm: {kind: fashion_mnist, path: /a, path: /b}\n" + grid,
       ":2:39 (key 'path'): duplicate key (first at line 2)"},
      {"method_map", std::string(kHead) + "grid:\n  ratio: [0.1]\n  method:\n    - {name: bgfdq, k: 5, k: 6}\n",
       ":8:27 (key 'k'): duplicate key (first at line 8)"},
      {"train", "datasets: {fm: {kind: fashion_mnist}}\ntrain:\n  epochs: 1\n  lr: 0.1\n  epochs: 2\n" + grid,
       ":5:3 (key 'epochs'): duplicate key (first at line 3)"},
      {"extractor", std::string(kHead) + "extractor: {kind: proxy, epochs: 1, kind: none}\n" + grid,
       ":5:37 (key 'kind'): duplicate key (first at line 5)"},
      {"zip", std::string(kHead) + "zip:\n  method: [random, random]\n  ratio: [0.1, 0.2]\n  method: [random]\n",
       ":8:3 (key 'method'): duplicate key (first at line 6)"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    std::string path;
    const std::string msg = error_of(c.name, c.body, path);
    CHECK(msg == path + c.where);
  }
}

TEST_CASE("datasets inspect reads YAML through the same check", "[hygiene][datasets]") {
  const std::string path =
      write_yaml("inspect", "datasets:\n  syn:\n    kind: synthetic_images\n    classes: 2\n    classes: 3\n");
  CHECK_THROWS_WITH(parse_dataset_definitions(path), path + ":5:5 (key 'classes'): duplicate key (first at line 4)");
}

TEST_CASE("aliases are walked once and do not count as duplicates", "[hygiene]") {
  CHECK_NOTHROW(parse_yaml("a: &x {k: 1, j: 2}\nb: *x\nc: [*x, *x]\n", "f.yaml"));
  CHECK_NOTHROW(parse_yaml("a: &x {b: *x}\n", "f.yaml"));  // an alias to itself: no endless walk
  CHECK_THROWS_WITH(parse_yaml("a: &x {k: 1, k: 2}\nb: *x\n", "f.yaml"),
                    "f.yaml:1:14 (key 'k'): duplicate key (first at line 1)");
  CHECK_THROWS_WITH(parse_yaml("a: [1,\n", "f.yaml"), Catch::StartsWith("f.yaml:") && Catch::Contains("YAML syntax error"));
}
