#include <catch2/catch.hpp>

#include "core/error.h"
#include "methods/class_partition.h"
#include "methods/method.h"

using namespace dq;

TEST_CASE("the README's worked example registers, parses from a spec string and selects as documented",
          "[example]") {
  // One class on a line: the mean is 2, so distances are 4, 1, 0, 1, 4 -> farthest first: ids 0, 4, 1, 3.
  const std::vector<float> z = {0, 1, 2, 3, 4};
  const std::vector<int64_t> labels(5, 0);
  ClassPartition p = partition_by_class(z.data(), 1, labels, 1);
  MemoryBudget memory(1 << 20);
  StageTimer timer;
  SelectContext ctx{0.6, 0, memory, timer, {}};
  const auto method = parse_method_spec("example_farthest(theta=0.25)", "test").instantiate();
  const auto sel = method->select(p.views, ctx);
  REQUIRE(sel.size() == 1);
  CHECK(sel[0].ids == std::vector<int64_t>{0, 4, 1, 3});  // round(0.6 * 5 / 0.75) = 4
  CHECK(sel[0].keep == std::vector<float>(4, 0.75f));
  CHECK(sel[0].diagnostics.at("max_distance") == 4.0);
  CHECK(timer.records().front().name == "scoring");
  MemoryBudget tiny(8);
  SelectContext small{0.6, 0, tiny, timer, {}};
  CHECK_THROWS_AS(method->select(p.views, small), OutOfMemory);
}
