// Device KNN equals CPU KNN (issue 20, item 3): the LibTorch search of methods/knn/device_search.h
// returns exactly exact_self_knn's lists and lambda_C pairs, byte for byte, on random, tied and
// duplicate-heavy data, in every dtype, with tiles small enough that rows and pairs span many of
// them. The device is CUDA where the linked LibTorch sees one (scripts/gpu-check.sh runs this tag
// there), CPU tensors otherwise: the same code path either way.
//   ./build/dq_model_tests "[device-knn]"
#include <torch/torch.h>
#undef CHECK  // LibTorch's glog-style CHECK would replace Catch's: include Catch after it
#include <catch2/catch.hpp>

#include "core/error.h"
#include "methods/knn/device_search.h"
#include "methods/knn/knn.h"
#include "methods/method.h"
#include "tests/test_bgfdq_data.h"

using namespace dq;
using dq::test::big_budget;
using dq::test::Points;

namespace {

std::string test_device() { return torch::cuda::is_available() ? "cuda" : "cpu"; }

void require_same(const SelfKnnResult& device, const SelfKnnResult& cpu) {
  REQUIRE(device.lists.n == cpu.lists.n);
  REQUIRE(device.lists.k == cpu.lists.k);
  REQUIRE(device.lists.ids == cpu.lists.ids);
  REQUIRE(device.lists.dist == cpu.lists.dist);  // float values, compared bit for bit
  REQUIRE(device.smallest_pairs == cpu.smallest_pairs);
  REQUIRE(device.duplicates == cpu.duplicates);
}

void compare_all_dtypes(const Points& p, int64_t k, uint64_t tile_bytes) {
  const ExactSearchOptions options{k, tile_bytes};
  const SelfKnnResult cpu = exact_self_knn(p.matrix(), 50, options, big_budget());
  for (const char* dtype : {"auto", "float32", "bfloat16", "float64"}) {
    INFO("device " << test_device() << ", dtype " << dtype);
    require_same(device_exact_self_knn(p.matrix(), 50, options, {test_device(), dtype}, big_budget()), cpu);
  }
}

}  // namespace

TEST_CASE("device KNN equals CPU KNN: random, tied and duplicate-heavy rows, every dtype", "[device-knn]") {
  REQUIRE(device_knn_available());
  for (const auto& c : dq::test::nomination_cases()) {
    INFO("case: " << c.name);
    compare_all_dtypes(c.points, c.k, c.tile_bytes);
  }
}

TEST_CASE("device KNN: the graph of a CUDA cell equals the CPU graph", "[device-knn]") {
  // build_knn_graph runs on the device only for a CUDA cell; on a CPU-only machine this checks that
  // a CPU cell is not sent there.
  const Points p = dq::test::clustered_points(400, 32, 4, 0.0, 17);
  std::vector<int64_t> ids(400);
  for (int64_t i = 0; i < 400; ++i) ids[static_cast<size_t>(i)] = i;
  const ClassView cls{0, ids, p.z.data(), p.d};
  KnnGraphOptions options;
  CellResources on_device;
  on_device.device = torch::cuda::is_available() ? "cuda:0" : "";
  const KnnGraph device = build_knn_graph(cls, options, big_budget(), on_device);
  const KnnGraph cpu = build_knn_graph(cls, options, big_budget(), {});
  REQUIRE(device.on_device == torch::cuda::is_available());
  REQUIRE(device.lists.ids == cpu.lists.ids);
  REQUIRE(device.lists.dist == cpu.lists.dist);
  REQUIRE(device.lambda_c == cpu.lambda_c);
}

TEST_CASE("device KNN refuses what it cannot do, by name", "[device-knn]") {
  const Points p = dq::test::clustered_points(50, 8, 2, 0.0, 1);
  CHECK_THROWS_WITH(device_exact_self_knn(p.matrix(), 50, {5}, {"cpu", "float16"}, big_budget()),
                    Catch::Contains("dtype 'float16' is not supported"));
  CHECK_THROWS_WITH(device_exact_self_knn(p.matrix(), 50, {5}, {"tpu:0", "auto"}, big_budget()),
                    Catch::Contains("'tpu:0' is not a LibTorch device"));
  if (!torch::cuda::is_available())
    CHECK_THROWS_WITH(device_exact_self_knn(p.matrix(), 50, {5}, {"cuda:0", "auto"}, big_budget()),
                      Catch::Contains("not available"));
}
