// Issue 11, kind 1, through the extractor: a TorchScript model's output and the embedding cache are
// checked where they enter, naming the source, the dataset row, its class and the dimension; a bad
// output is never cached.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <torch/script.h>

#include <filesystem>

#include "core/error.h"
#include "core/npy.h"
#include "datasets/dataset.h"
#include "models/models.h"
#include "test_datasets_helpers.h"
#include "test_helpers.h"

using namespace dq;
namespace fs = std::filesystem;

namespace {
std::string save_module(const fs::path& dir, const std::string& name, const std::string& forward) {
  torch::jit::Module m("m");
  m.define(forward);
  const std::string path = (dir / name).string();
  m.save(path);
  return path;
}

ExtractorOptions torchscript(const std::string& path) {
  Params p("extractor", extractor_specs());
  p.set_from_text("kind", "torchscript", "test");
  p.set_from_text("path", path, "test");
  p.set_from_text("normalize", "none", "test");
  return parse_extractor_options(p);
}

size_t files_in(const fs::path& dir) {
  size_t n = 0;
  if (fs::exists(dir))
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}
}  // namespace

TEST_CASE("a TorchScript extractor's NaN, or float64 beyond float32, names row, class and dim", "[hygiene][extractor]") {
  const fs::path dir = test::scratch_dir("extractor_bad_values");
  const Dataset d = test::load_with(
      "synthetic_images", {{"classes", "3"}, {"train_per_class", "4"}, {"test_per_class", "1"}, {"image_size", "8"}});
  REQUIRE(d.train.n == 12);
  const int64_t label = d.train.labels[7];
  const std::string cls = fmt::format("class {} '{}'", label, d.class_names[static_cast<size_t>(label)]);
  const std::string cache = (dir / "cache").string();

  const std::string nan_model = save_module(dir, "nan.pt", R"(
def forward(self, x):
    y = x.flatten(1)[:, 0:4].clone()
    y[7, 2] = float('nan')
    return y
)");
  CHECK_THROWS_WITH(compute_embeddings(d, torchscript(nan_model), cache, nullptr),
                    fmt::format("TorchScript extractor {}: embedding row 7 ({}), dim 2 is NaN (1 bad value in rows 0..11): "
                                "embeddings must be finite",
                                nan_model, cls));
  CHECK(files_in(fs::path(cache) / "embeddings") == 0);  // nothing cached

  // 1e39 in float64 (TorchScript will not take the literal: it converts scalars through float).
  const std::string wide_model = save_module(dir, "wide.pt", R"(
def forward(self, x):
    y = x.flatten(1)[:, 0:4].double()
    y[7, 2] = 1e30
    y[7] = y[7] * 1e9
    return y
)");
  CHECK_THROWS_WITH(compute_embeddings(d, torchscript(wide_model), cache, nullptr),
                    fmt::format("TorchScript extractor {}: embedding row 7 ({}), dim 2 is 1e+39 in float64, beyond the "
                                "float32 range (|x| <= 3.40282e+38) (1 bad value in rows 0..11): embeddings are used as float32",
                                wide_model, cls));

  // A cache file edited after the fact is refused as well, naming the file.
  const std::string good_model = save_module(dir, "good.pt", R"(
def forward(self, x):
    return x.flatten(1)[:, 0:4]
)");
  const Embeddings good = compute_embeddings(d, torchscript(good_model), cache, nullptr);
  REQUIRE(good.d == 4);
  REQUIRE_FALSE(good.cache_path.empty());
  std::vector<float> poisoned = good.z;
  poisoned[5 * 4 + 3] = -std::numeric_limits<float>::infinity();
  write_npy(good.cache_path, poisoned.data(), {12, 4});
  const int64_t label5 = d.train.labels[5];
  CHECK_THROWS_WITH(compute_embeddings(d, torchscript(good_model), cache, nullptr),
                    fmt::format("cached embeddings {}: embedding row 5 (class {} '{}'), dim 3 is -inf (1 bad value in "
                                "rows 0..11): embeddings must be finite",
                                good.cache_path, label5, d.class_names[static_cast<size_t>(label5)]));
}
