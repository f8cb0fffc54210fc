// The harness asks a method what it does (MethodInfo::drops_patches, peak_bytes, shared_artefact) and
// a dataset loader its sizes (DatasetLoaderInfo::sizes) instead of guessing from parameter names, so
// a method added outside the built-in ones (the worked example, or the test method below, registered
// the way a plugin registers) is treated as a built-in one.
#include <catch2/catch.hpp>


#include "core/error.h"
#include "datasets/dataset.h"
#include "harness/experiment.h"
#include "harness/preflight.h"
#include "harness/status.h"
#include "methods/method.h"
#include "test_cell_helpers.h"
#include "test_helpers.h"

namespace dq {
namespace {

// "cutter": keeps the first round(ratio * M) samples of each class, each at `keep`; declares patch
// dropping only when `declare` is 1, and a shared artefact keyed by `key` at size `size`.
class Cutter final : public PerClassMethod {
 public:
  explicit Cutter(const Params& p) : keep_(static_cast<float>(p.get_double("keep"))) {}
  ClassSelection select_class(const ClassView& cls, uint64_t, const SelectContext& ctx) override {
    ClassSelection out;
    for (int64_t i = 0; i < budget_count(ctx.ratio, cls.size()); ++i) out.ids.push_back(cls.ids[static_cast<size_t>(i)]);
    out.keep.assign(out.ids.size(), keep_);
    return out;
  }

 private:
  float keep_;
};

int g_cutter_builds = 0;  // how often test_cutter was built (its `make` ran)

MethodInfo make_cutter_info() {
  return {.name = "test_cutter",
          .description = "test method: the first samples of each class at a fixed kept fraction",
          .params = {{"keep", ParamType::Double, 1.0, "kept fraction", {}, 0.05, 1.0},
                     {"declare", ParamType::Int, int64_t{0}, "declare patch dropping (1)", {}, 0.0, 1.0},
                     {"key", ParamType::String, std::string("a"), "shared artefact key", {}, {}, {}},
                     {"size", ParamType::Int, int64_t{1}, "shared artefact size", {}, 1.0, {}}},
          .make = [](const Params& p) -> std::unique_ptr<SelectionMethod> {
            ++g_cutter_builds;
            return std::make_unique<Cutter>(p);
          },
          .drops_patches = [](const Params& p) { return p.get_int("declare") == 1; },
          .peak_bytes = nullptr,
          .shared_artefact = [](const Params& p) -> std::optional<SharedArtefact> {
            return SharedArtefact{.key = p.get_string("key"), .size = p.get_int("size")};
          }};
}
DQ_REGISTER_METHOD(make_cutter_info);

Experiment experiment(const std::filesystem::path& dir, const std::string& name, const std::string& patches,
                      const std::string& methods) {
  test::write_text(dir / (name + ".yaml"),
                   "name: " + name + "\ndatabase: " + (dir / (name + ".db")).string() +
                       "\nmemory_budget: 1GiB\ndatasets: {syn: {kind: synthetic_embeddings, classes: 2, per_class: 20, "
                       "dim: 4}}\nextractor: {kind: none}\ntrain: none\npatches: " + patches +
                       "\ngrid: {ratio: [0.2], method: " + methods + "}\n");
  return load_experiment((dir / (name + ".yaml")).string());
}

}  // namespace
}  // namespace dq

using namespace dq;

TEST_CASE("capabilities: the patches section enters the id of exactly the cells whose method declares patch dropping",
          "[capabilities]") {
  const auto dir = test::scratch_dir("capabilities_patches");
  const std::string methods =
      "[random, bgfdq, dq, adq, dqas_approx, \"example_farthest(theta=0)\", "
      "\"test_cutter(declare=1)\", \"test_cutter(declare=0)\", "
      "{name: external, command: \"python3 m.py\"}]";
  const Experiment a = experiment(dir, "a", "{drop: random, reconstruct: mean}", methods);
  const Experiment b = experiment(dir, "b", "{drop: gradcampp, reconstruct: mean}", methods);
  REQUIRE(a.cells.size() == b.cells.size());
  for (size_t i = 0; i < a.cells.size(); ++i) {
    const MethodSpec& method = a.cells[i].method;
    INFO(method.canonical());
    const bool declares = method.name != "random" && method.canonical().find("declare=0") == std::string::npos;
    CHECK(a.cells[i].drops_patches() == declares);
    CHECK((a.cells[i].id() != b.cells[i].id()) == declares);
    // The bug this fixes: an external method's keep.npy below 1 went through the patch stage while its
    // cell id ignored `patches:`, so a changed section resumed the stale DONE cell.
    if (method.name == "external") CHECK(a.cells[i].id() != b.cells[i].id());
  }
}

TEST_CASE("capabilities: indices declares patch dropping from its parameters alone", "[capabilities]") {
  const auto& info = MethodRegistry::instance().find("indices", "test");
  const auto spec = [&](const std::string& file, const std::string& keep) {
    Params p("method 'indices'", info.params);
    p.set_from_text("file", file, "test");
    if (!keep.empty()) p.set_from_text("keep", keep, "test");
    return MethodSpec{"indices", p};
  };
  CHECK_FALSE(spec("ids.npy", "").drops_patches());   // ids only: every image whole
  CHECK(spec("ids.npy", "keep.npy").drops_patches());  // a keep file
  CHECK(spec("export_folder", "").drops_patches());    // an export folder may hold keep and masks
}

TEST_CASE("capabilities: a method that cuts images without declaring it fails its cell before anything is stored",
          "[capabilities]") {
  const auto dir = test::scratch_dir("capabilities_undeclared");
  const Experiment ex = experiment(dir, "u", "{drop: random, reconstruct: mean}",
                                   "[\"test_cutter(keep=0.5)\", \"test_cutter(keep=0.5,declare=1)\", test_cutter]");
  REQUIRE(ex.cells.size() == 3);
  Store store(ex.database);
  CHECK(test::run_cell_here(ex, ex.cells[0], store) == CellStatus::Failed);
  const auto row = store.find_cell(ex.cells[0].id());
  REQUIRE(row);
  CHECK_THAT(row->error, Catch::Contains("method 'test_cutter' returned kept fractions below 1 but does not declare "
                                         "that it drops patches"));
  CHECK_FALSE(store.selection(ex.cells[0].id()));
  // Declared: the cell runs (features only: no images to cut, the kept fractions are stored as given).
  CHECK(test::run_cell_here(ex, ex.cells[1], store) == CellStatus::Done);
  CHECK(store.selection(ex.cells[1].id())->keep == std::vector<float>(8, 0.5f));
  // Whole images need no declaration.
  CHECK(test::run_cell_here(ex, ex.cells[2], store) == CellStatus::Done);
}

TEST_CASE("capabilities: a sweep shares the artefact its method declares, by key, at the largest size",
          "[capabilities]") {
  const auto dir = test::scratch_dir("capabilities_sweep");
  const Experiment ex = experiment(
      dir, "s", "{drop: random, reconstruct: mean}",
      "[\"test_cutter(size=3)\", \"test_cutter(size=9)\", \"test_cutter(size=20,key=b)\", \"bgfdq(k=5)\", "
      "\"bgfdq(k=12)\", \"bgfdq(k=30,knn=clustered)\", random]");
  REQUIRE(ex.cells.size() == 7);
  const std::vector<int64_t> want = {9, 9, 20, 12, 12, 30, 0};
  for (size_t i = 0; i < ex.cells.size(); ++i) {
    INFO(ex.cells[i].method.canonical());
    CHECK(knn_sweep_k(ex, ex.cells[i]) == want[i]);
  }
}

TEST_CASE("capabilities: the dry run's estimate is the method's declared model at the dataset's declared sizes",
          "[capabilities]") {
  const auto dir = test::scratch_dir("capabilities_peak");
  const Experiment ex = experiment(dir, "p", "{drop: random, reconstruct: mean}",
                                   "[\"example_farthest(theta=0.25)\", test_cutter, \"bgfdq(k=4,tile_mb=1)\"]");
  REQUIRE(ex.cells.size() == 3);
  // The worked example (a method from outside the built-in ones) declares M doubles.
  const PeakEstimate farthest = estimate_peak(ex.cells[0]);
  CHECK(farthest.declared_bytes == 20 * 8);
  CHECK(farthest.data_bytes == 2 * 40 * 4 * 4);  // features and embeddings: 40 x 4 floats each
  CHECK(farthest.detail == "M=20 d=4: distances M*8");
  const PeakEstimate cutter = estimate_peak(ex.cells[1]);
  CHECK(cutter.declared_bytes == -1);
  CHECK(cutter.detail == "M=20 d=4: no estimate for method 'test_cutter'");
  // BGFDQ at a sweep's larger k: lists M*k*8 + min(tile, 4*M^2) + the padded copy M*(d+3)*4.
  CHECK(estimate_peak(ex.cells[2], 10).declared_bytes == 20 * 10 * 8 + 4 * 20 * 20 + 20 * 7 * 4);
  // A dataset that declares no sizes before loading: no estimate, whatever the method.
  const auto& cifar = DatasetRegistry::instance().find("cifar10", "test");
  CHECK_FALSE(cifar.sizes);
}

TEST_CASE("capabilities: a method is built once when the file is read, and once more to run a cell", "[capabilities]") {
  const auto dir = test::scratch_dir("capabilities_builds");
  test::write_text(dir / "b.yaml", "name: b\ndatabase: " + (dir / "b.db").string() +
                                       "\nmemory_budget: 1GiB\ndatasets: {syn: {kind: synthetic_embeddings, classes: 2, "
                                       "per_class: 20, dim: 4}}\nextractor: {kind: none}\ntrain: none\n"
                                       "grid: {method: [\"test_cutter(keep=0.5,declare=1)\"], ratio: [0.1, 0.2, 0.3], "
                                       "seed: [0, 1]}\n");
  g_cutter_builds = 0;
  const Experiment ex = load_experiment((dir / "b.yaml").string());
  REQUIRE(ex.cells.size() == 6);
  CHECK(g_cutter_builds == 1);  // one method value: built once, not once per cell
  // What the harness asks before running (needs embeddings, needs images, produces bins, drops patches,
  // peak, shared artefact) builds nothing more.
  CHECK(check_before_running(ex).empty());
  for (const auto& cell : ex.cells) {
    CHECK(cell.method.traits().needs_embeddings);
    CHECK(cell.drops_patches());
    (void)estimate_peak(cell, knn_sweep_k(ex, cell));
  }
  CHECK(g_cutter_builds == 1);
  Store store(ex.database);
  CHECK(test::run_cell_here(ex, ex.cells[3], store) == CellStatus::Done);
  CHECK(g_cutter_builds == 2);  // the cell builds the method it runs
}
