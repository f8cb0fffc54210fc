// Pins, written by the code before a refactoring and compared after it: the selection of every
// built-in method (and the worked plugin example) on tiny synthetic classes, and the cell ids of an
// experiment over every method. A refactoring must keep each byte for byte; a value here changes only
// with a named bug fix (its commit says which, and why the old value was wrong). DQ_PRINT_PINS=1
// prints the values the code computes, in the form of the tables below.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/hashing.h"
#include "datasets/dataset.h"
#include "harness/experiment.h"
#include "methods/selection_step.h"
#include "test_dq_data.h"
#include "test_helpers.h"

using namespace dq;

namespace {

// Grey 1 x 6 x 6 images indexed by dataset id, every fifth one striped (ADQ's texture level, SPD).
ImageSet striped_images(const test::MultiClass& data) {
  std::set<int64_t> every_fifth;
  for (const auto& ids : data.ids)
    for (int64_t id : ids)
      if (id % 5 == 0) every_fifth.insert(id);
  return test::textured_images(data, every_fifth);
}

// sha256 of the selection's ids (int64) then its kept fractions (float32), classes in order.
std::string selection_sha256(const std::string& spec, const test::MultiClass& data, const ImageSet& images) {
  MemoryBudget memory(1ull << 32);
  StageTimer timer;
  const SelectContext ctx{.ratio = 0.2, .seed = 17, .memory = memory, .timer = timer,
                          .resources = {.train_images = &images, .cache_dir = "", .embedding_key = ""}};
  const auto views = data.views();
  auto method = parse_method_spec(spec, "test").instantiate();
  const Selection s = run_selection(*method, views, ctx);
  Sha256 h;
  h.update(s.ids.data(), s.ids.size() * sizeof(int64_t));
  h.update(s.keep.data(), s.keep.size() * sizeof(float));
  return h.hex();
}

}  // namespace

TEST_CASE("pinned: every method's selection on tiny synthetic classes is unchanged", "[pinned]") {
  const auto data = test::multi_class({60, 50, 40}, 8, 31);
  const ImageSet images = striped_images(data);
  const std::map<std::string, std::string> pinned = {
      {"random", "d6ef891a80a75fdf3385c84c3df7ed5ab58068b5b6c44908998cb872d428f003"},
      {"bgfdq", "aade15f4df6e38643efa3f2b6e9b364eaec112a0c604e05570af2d77ca0c9ac9"},
      {"bgfdq(k=3,theta=0)", "fdc04c3d59f956bd679c9c8201d5323acb93f1c3d23f50032cdde946176782b6"},
      {"bgfdq(knn=clustered,k=5)", "078b9a35c5015b59bc539561a1a74efc7ae8cab362375a1e84d06680f91a433e"},
      {"bgfdq(spd=on,lambda_scale=2)", "08eda65121844f69abeb4ec77866eeb7c1649a26b7b594b1fa8ea8d1a03487e4"},
      {"dq(mode=naive)", "5dbd76e1cdb8733b6a7793541a32e8f5db0fb77567988a82549071de0d50d473"},
      {"dq(mode=memo,theta=0)", "75259f8aa1eed131cb79cbb848fa5ac1939bdff104d9452b82b74ed8e011b268"},
      {"dq(mode=streaming,bins=4)", "1cb61e4521ac301cafdd892cdc0a61e93ac1f701b445e547c1a357384737896d"},
      {"adq", "9ccae4962396be10c3f06eb3dbc49b9db6eec441f8600739b46edd8981c9f28a"},
      {"adq(alpha=0.3,mode=memo)", "9ccae4962396be10c3f06eb3dbc49b9db6eec441f8600739b46edd8981c9f28a"},
      {"dqas_approx(mode=memo)", "3cbefe6bd41299699ae84ef121227996749a3ae80dc828e55deb4e8645e8e03b"},
      {"dqas_approx(mode=streaming,proxy=logreg,rounds=3)", "3ac413d41fe721496ef6224fade0e6e98e03bea571213e5dcc18a033694c3550"},
      {"example_farthest(theta=0.5)", "422708afdc4efed95a92c07c311d1751873591a48f097e00f89ee7d3182d540a"},
  };
  for (const auto& [spec, sha] : pinned) {
    INFO(spec);
    const std::string got = selection_sha256(spec, data, images);
    if (std::getenv("DQ_PRINT_PINS")) std::printf("      {\"%s\", \"%s\"},\n", spec.c_str(), got.c_str());
    CHECK(got == sha);
  }
}

TEST_CASE("pinned: the cell ids of an experiment over every method are unchanged", "[pinned]") {
  const auto dir = test::scratch_dir("pinned_cell_ids");
  test::write_text(dir / "p.yaml", R"(name: p
memory_budget: 1GiB
datasets:
  emb: {kind: synthetic_embeddings, classes: 3, per_class: 20, dim: 4}
extractor: {kind: none}
patches: {drop: random, reconstruct: mean}
grid:
  ratio: [0.2]
  seed: [0]
  method:
    - random
    - bgfdq
    - bgfdq(k=5,theta=0)
    - dq(mode=memo)
    - adq
    - dqas_approx
    - example_farthest(theta=0.25)
    - {name: external, command: "python3 m.py --a {a}", params: {a: 1}}
)");
  const Experiment ex = load_experiment((dir / "p.yaml").string());
  std::vector<std::string> ids;
  for (const auto& c : ex.cells) {
    ids.push_back(c.method.name + " " + c.id());
    if (std::getenv("DQ_PRINT_PINS")) std::printf("      \"%s\",\n", ids.back().c_str());
  }
  CHECK(ids == std::vector<std::string>{
      "random 3bf3b8deef75af47c22ea41b72e758139b84fc67116818839e92cae6ac78c732",
      "bgfdq 1fc37f23279904da560ff87ac5ba34fe077e4414f0f84c2e66d85740e5f077aa",
      "bgfdq fc8ac43604564fca769290adbaabff26bec02fa3f88424c9bb26782f03f5bbbf",
      "dq 1d290b4a2e4d45ea382bb8f302c05fe5f85762d30b2a9af2b0c392b1ef130138",
      "adq 76e66a0eb7dea3f9d460718eb76e1a5abfc7f60641544f480e776a88138a24dd",
      "dqas_approx 41390c187bc2a781878e9c64c333946d33126ef8a640908e843715da801f689f",
      "example_farthest 37d28f846d4a0b8c1204ab65d98da01f672a40a1cd26d0bb80e2d90ad5bdbb76",
      // Changed by a named bug fix (issue 21, item 2): an external method's keep.npy may cut images, so
      // its id now names the patches section (was eeba888b6759...: a changed section resumed a stale cell).
      "external 9f26db9b989a34c83cbe331a48434ace5128b6fd8361cc8cd8d8c3054f494f8d",
                 });
}
