// Method plugins (harness/plugin_loader.cpp): the example plugin (examples/cpp_plugin/), built by
// CMake beside the tests, loads, registers through DQ_REGISTER_METHOD and picks what the built-in
// method it mirrors picks.
#include <catch2/catch.hpp>
#include <filesystem>

#include "core/error.h"
#include "harness/experiment.h"
#include "harness/plugin_loader.h"
#include "methods/class_partition.h"
#include "methods/method.h"
#include "test_helpers.h"

using namespace dq;

TEST_CASE("plugin: the example library registers a method whose picks equal the built-in random", "[plugin]") {
  const auto& names = load_method_plugin(DQ_EXAMPLE_PLUGIN, "test");
  REQUIRE(names == std::vector<std::string>{"plugin_random"});
  CHECK(&load_method_plugin(DQ_EXAMPLE_PLUGIN, "again") == &names);  // loaded once per process
  CHECK(MethodRegistry::instance().find("plugin_random", "test").library ==
        std::filesystem::absolute(DQ_EXAMPLE_PLUGIN).lexically_normal().string());
  CHECK(MethodRegistry::instance().find("random", "test").library.empty());

  std::vector<int64_t> labels;
  for (int64_t i = 0; i < 300; ++i) labels.push_back((i * 7) % 4);
  const ClassPartition part = partition_by_class(nullptr, 0, labels, 4);
  for (const double ratio : {0.05, 0.3, 1.0})
    for (const uint64_t seed : {0ull, 17ull}) {
      MemoryBudget memory(1 << 20);
      StageTimer timer;
      SelectContext a{ratio, seed, memory, timer, {}}, b{ratio, seed, memory, timer, {}};
      const auto builtin = parse_method_spec("random", "test").instantiate()->select(part.views, a);
      const auto plugin = parse_method_spec("plugin_random", "test").instantiate()->select(part.views, b);
      REQUIRE(builtin.size() == plugin.size());
      for (size_t c = 0; c < builtin.size(); ++c) {
        CHECK(plugin[c].ids == builtin[c].ids);
        CHECK(plugin[c].keep == builtin[c].keep);
      }
    }
}

TEST_CASE("plugin: experiment entries load the library; bad libraries are clear errors", "[plugin]") {
  const auto dir = test::scratch_dir("plugin_yaml");
  const auto yaml = [&](const std::string& method) {
    test::write_text(dir / "x.yaml", "name: x\ndatabase: " + (dir / "x.db").string() +
                                         "\ndatasets:\n  b: {kind: synthetic_embeddings, classes: 2, per_class: 5, dim: 2}\n"
                                         "grid:\n  ratio: [0.5]\n  method:\n    - " + method + "\n");
    return load_experiment((dir / "x.yaml").string());
  };
  const std::string lib = DQ_EXAMPLE_PLUGIN;
  const Experiment ex = yaml("{name: plugin, library: " + lib + "}");
  REQUIRE(ex.cells.size() == 1);
  CHECK(ex.cells[0].method.name == "plugin_random");
  CHECK(yaml("{name: plugin, library: " + lib + ", method: plugin_random}").cells[0].id() == ex.cells[0].id());
  CHECK_THROWS_WITH(yaml("{name: plugin, library: " + lib + ", method: nope}"),
                    Catch::Contains("x.yaml:8:") && Catch::Contains("has no method 'nope' (it registers: plugin_random)"));
  CHECK_THROWS_WITH(yaml("{name: plugin, library: " + lib + ", k: 3}"), Catch::Contains("unknown parameter 'k'"));
  CHECK_THROWS_WITH(yaml("{name: plugin, library: " + (dir / "none.so").string() + "}"),
                    Catch::Contains("(key 'library'): plugin library '") && Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(yaml("{name: plugin}"), Catch::Contains("a plugin entry needs 'library: path/libmine.so'"));
  test::write_text(dir / "junk.so", "not a library");
  CHECK_THROWS_WITH(yaml("{name: plugin, library: " + (dir / "junk.so").string() + "}"),
                    Catch::Contains("cannot load plugin"));
  // A second copy of the library registers plugin_random again: a conflict, not a crash.
  std::filesystem::copy_file(lib, dir / "copy.so", std::filesystem::copy_options::overwrite_existing);
  CHECK_THROWS_WITH(load_method_plugin((dir / "copy.so").string(), "test"),
                    Catch::Contains("registers method names that are already taken: plugin_random"));
}
