#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <tuple>

#include "core/error.h"
#include "harness/experiment.h"
#include "test_helpers.h"

using namespace dq;

namespace {
std::string write_experiment(const std::string& name, const std::string& body) {
  const auto dir = test::scratch_dir("exp_" + name);
  const auto path = dir / (name + ".yaml");
  test::write_text(path, body);
  return path.string();
}

const char* kBase = R"(name: t
datasets:
  fm: {kind: fashion_mnist, path: /nonexistent}
train: none
)";
}  // namespace

TEST_CASE("grid axes expand as a cartesian product in a stable order", "[experiment]") {
  const auto ex = load_experiment(write_experiment("grid", std::string(kBase) + R"(grid:
  method: [random]
  ratio: [0.1, 0.2, 1.0]
  seed: [0, 1]
)"));
  REQUIRE(ex.cells.size() == 6);
  CHECK(ex.cells[0].ratio == 0.1);
  CHECK(ex.cells[0].seed == 0);
  CHECK(ex.cells[1].seed == 1);
  CHECK(ex.cells[5].ratio == 1.0);
  CHECK(ex.database == "results/t.db");
  std::set<std::string> ids;
  for (const auto& c : ex.cells) ids.insert(c.id());
  CHECK(ids.size() == 6);
}

TEST_CASE("zip axes vary together and cross the grid", "[experiment]") {
  const auto ex = load_experiment(write_experiment("zip", std::string(kBase) + R"(grid:
  seed: [0, 1]
zip:
  method: [random, random]
  ratio: [0.1, 0.3]
)"));
  REQUIRE(ex.cells.size() == 4);  // 2 seeds x 2 zipped rows
  std::set<std::pair<double, int64_t>> got;
  for (const auto& c : ex.cells) got.insert({c.ratio, c.seed});
  CHECK(got == std::set<std::pair<double, int64_t>>{{0.1, 0}, {0.3, 0}, {0.1, 1}, {0.3, 1}});
}

TEST_CASE("cell ids are stable, canonical and sensitive to every result-changing field", "[experiment]") {
  const std::string body = std::string(kBase) + "grid: {method: [random], ratio: [0.2], seed: [3]}\n";
  const auto a = load_experiment(write_experiment("ida", body));
  // Same cell written differently (key order, default written out, spacing) -> same id.
  const auto b = load_experiment(write_experiment("idb", R"Y(train: none
datasets:
  other_name: {path: /nonexistent, kind: fashion_mnist, names: fashion}
zip: {ratio: [0.20], method: ["random()"]}
grid: {seed: 3}
name: u
)Y"));
  REQUIRE(a.cells.size() == 1);
  REQUIRE(b.cells.size() == 1);
  CHECK(a.cells[0].id() == b.cells[0].id());
  CHECK(a.cells[0].id().size() == 64);
  CHECK(a.cells[0].selection_seed() == b.cells[0].selection_seed());
  // Pinned: the canonical JSON must not drift between versions, or every database loses its cells.
  CHECK(a.cells[0].canonical_json() ==
        R"({"dataset":{"kind":"fashion_mnist","params":{"names":"fashion","path":"/nonexistent"}},"extractor":null,)"
        R"("memory_budget":)" + std::to_string(a.memory_budget) +
            R"(,"method":{"name":"random","params":{}},"ratio":0.2,"seed":3,"train":null})");
  const auto c = load_experiment(write_experiment("idc", std::string(kBase) + "grid: {method: [random], ratio: [0.2], seed: [4]}\n"));
  CHECK(c.cells[0].id() != a.cells[0].id());
  CHECK(c.cells[0].selection_seed() != a.cells[0].selection_seed());
}

TEST_CASE("the selection seed ignores the training recipe; the training seed does not", "[experiment]") {
  const std::string head = "datasets: {fm: {kind: fashion_mnist, path: /x}}\ngrid: {method: [random], ratio: [0.5]}\n";
  const auto a = load_experiment(write_experiment("seed_a", head + "train: {epochs: 2}\n"));
  const auto b = load_experiment(write_experiment("seed_b", head + "train: {epochs: 3}\n"));
  CHECK(a.cells[0].id() != b.cells[0].id());
  CHECK(a.cells[0].selection_seed() == b.cells[0].selection_seed());
  CHECK(a.cells[0].training_seed() != b.cells[0].training_seed());
}

TEST_CASE("the training seed is the same for every method at one (dataset, recipe, ratio, seed)", "[experiment]") {
  const auto ex = load_experiment(write_experiment(
      "seed_methods", "datasets: {fm: {kind: fashion_mnist, path: /x}}\ntrain: {epochs: 2}\nextractor: {kind: proxy}\n"
                      "grid: {method: [random, \"dq(theta=0.25)\"], ratio: [0.5, 0.25], seed: [0, 1]}\n"));
  REQUIRE(ex.cells.size() == 8);
  std::map<std::tuple<double, int64_t>, std::set<uint64_t>> seeds;
  std::set<uint64_t> all;
  for (const auto& c : ex.cells) {
    seeds[{c.ratio, c.seed}].insert(c.training_seed());
    all.insert(c.training_seed());
  }
  for (const auto& [key, s] : seeds) CHECK(s.size() == 1);  // both methods share it
  CHECK(all.size() == 4);                                     // ratios and seeds do not
}

TEST_CASE("validation errors name the file, line and key", "[experiment]") {
  auto fails_with = [](const std::string& name, const std::string& body, const std::string& line_key) {
    const std::string path = write_experiment(name, body);
    try {
      load_experiment(path);
      FAIL("expected an error for " << name);
    } catch (const Error& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find(path) != std::string::npos);
      CHECK(msg.find(line_key) != std::string::npos);
    }
  };
  fails_with("topkey", std::string(kBase) + "grdi: {ratio: [0.1]}\n", ":5:1: unknown key 'grdi'");
  fails_with("ratio", std::string(kBase) + "grid:\n  method: [random]\n  ratio: [0.1, 1.5]\n", ":7:16 (key 'ratio'): ratio 1.5 is outside (0, 1]");
  fails_with("method", std::string(kBase) + "grid:\n  method: [randon]\n  ratio: [0.1]\n", ":6:12 (key 'method'): unknown method 'randon'");
  fails_with("param", std::string(kBase) + "grid:\n  method: [\"random(k=2)\"]\n  ratio: [0.1]\n", "unknown parameter 'k'");
  fails_with("dsname", std::string(kBase) + "grid:\n  dataset: [fmnist]\n  method: [random]\n  ratio: [0.1]\n",
             ":6:13 (key 'dataset'): unknown dataset 'fmnist'");
  fails_with("dskind", "datasets:\n  fm: {kind: fashion_mnst}\ngrid: {method: [random], ratio: [0.1]}\n",
             ":2:14 (key 'kind'): unknown dataset kind 'fashion_mnst'");
  fails_with("dsparam", "datasets:\n  fm: {kind: fashion_mnist, pth: /x}\ngrid: {method: [random], ratio: [0.1]}\n",
             ":2:29 (key 'pth'): unknown parameter 'pth'");
  fails_with("train", std::string("datasets: {fm: {kind: fashion_mnist}}\ntrain:\n  epochs: three\n") +
                          "grid: {method: [random], ratio: [0.1]}\n",
             ":3:3 (key 'epochs'): parameter 'epochs' of train expects an integer");
  fails_with("zip", std::string(kBase) + "zip:\n  method: [random]\n  ratio: [0.1, 0.2]\n", "zip axis 'ratio' has 2 values");
  fails_with("axis", std::string(kBase) + "grid:\n  ratios: [0.1]\n", ":6:3: unknown axis 'ratios'");
  fails_with("budget", std::string(kBase) + "memory_budget: 12 gigs\ngrid: {method: [random], ratio: [0.1]}\n",
             ":5:16 (key 'memory_budget'): unknown size unit");
  // Before: an empty database name ran 0 cells and ended "no such database"; an empty experiment name
  // was stored; a budget of 0 bytes ended every cell as OOM.
  fails_with("emptydb", std::string(kBase) + "database: ''\ngrid: {method: [random], ratio: [0.1]}\n",
             ":5:11 (key 'database'): must not be empty");
  fails_with("emptyname", "name: ''\ndatasets: {fm: {kind: fashion_mnist}}\ngrid: {method: [random], ratio: [0.1]}\n",
             ":1:7 (key 'name'): must not be empty");
  fails_with("budget0", std::string(kBase) + "memory_budget: 0\ngrid: {method: [random], ratio: [0.1]}\n",
             ":5:16 (key 'memory_budget'): must be more than 0 bytes");
  // Before: "expected a mapping of parameters", naming no key. Leaving the section out (no embeddings) and
  // {kind: none} (the dataset's own features) differ, so a bare `none` is not taken for either.
  fails_with("extractornone", std::string(kBase) + "extractor: none\ngrid: {method: [random], ratio: [0.1]}\n",
             ":5:12 (key 'extractor'): expected a mapping such as {kind: proxy}, not 'none'; for no embeddings leave "
             "the section out, for the features the dataset carries write extractor: {kind: none}");
  // Before: "must be a single value, not a list or mapping" for a key with nothing after it.
  fails_with("emptyvalue", std::string(kBase) + "patches:\n  mae_epochs:\ngrid: {method: [random], ratio: [0.1]}\n",
             ":6:3 (key 'mae_epochs'): 'mae_epochs' has no value (write one, or leave the key out for its default)");
  fails_with("syntax", "datasets: {fm: [\n", "YAML syntax error");
  // Before: a misspelt knn mode passed the dry run and failed each cell inside FAISS.
  fails_with("knn", std::string(kBase) + "extractor: {kind: proxy}\ngrid:\n  method: [\"bgfdq(knn=exakt)\"]\n  ratio: [0.1]\n",
             ":7:12 (key 'method'): parameter 'knn' of method 'bgfdq': 'exakt' is neither exact, clustered, auto nor a "
             "FAISS index_factory string");
  // An option combination that cannot be honoured is refused here, before any cell runs.
  fails_with("noextractor", std::string(kBase) + "grid:\n  method: [random, bgfdq]\n  ratio: [0.1]\n",
             ":6:20 (key 'method'): method 'bgfdq' works on embeddings; add an 'extractor:' section");
  // Before: a missing TorchScript file was found by each cell after its dataset loaded (cells FAILED).
  fails_with("torchscript", std::string(kBase) + "extractor: {kind: torchscript, path: /nonexistent/m.pt}\n" +
                                "grid: {method: [dq], ratio: [0.1]}\n",
             ":5:38 (key 'path'): the TorchScript model '/nonexistent/m.pt' is not a file");
  fails_with("torchscript_nopath", std::string(kBase) + "extractor: {kind: torchscript}\ngrid: {method: [dq], ratio: [0.1]}\n",
             ":5:12 (key 'path'): the TorchScript model '' is not a file");
}

TEST_CASE("the patches section is validated up front and enters only patch-dropping cells' ids", "[experiment][patches]") {
  const std::string grid = "extractor: {kind: none}\ngrid: {method: [random, \"bgfdq(theta=0.25)\"], ratio: [0.2]}\n";
  const auto plain = load_experiment(write_experiment("patches_plain", std::string(kBase) + grid));
  const auto mae = load_experiment(
      write_experiment("patches_mae", std::string(kBase) + "patches: {reconstruct: mae, mae_epochs: 3}\n" + grid));
  REQUIRE(plain.cells.size() == 2);
  REQUIRE(mae.cells.size() == 2);
  CHECK(mae.cells[0].patches.reconstruct == PatchFill::Mae);
  CHECK(mae.cells[0].patches.mae.epochs == 3);
  CHECK(plain.cells[0].id() == mae.cells[0].id());  // random: whole images, the same cell
  CHECK(plain.cells[1].id() != mae.cells[1].id());  // bgfdq: the reconstruction is part of the cell
  CHECK(mae.cells[1].canonical_json().find("\"reconstruct\":\"mae\"") != std::string::npos);

  const auto bad_key = write_experiment("patches_bad", std::string(kBase) + "patches: {reconstuct: mae}\n" + grid);
  CHECK_THROWS_WITH(load_experiment(bad_key), Catch::Contains("patches_bad.yaml:5") && Catch::Contains("reconstuct"));
  const auto bad_value = write_experiment("patches_value", std::string(kBase) + "patches: {drop: sideways}\n" + grid);
  CHECK_THROWS_WITH(load_experiment(bad_value), Catch::Contains("sideways"));
  const auto missing = write_experiment("patches_missing", std::string(kBase) + "patches: {mae_path: /no/such/mae.pt}\n" + grid);
  CHECK_THROWS_WITH(load_experiment(missing), Catch::Contains("patches.mae_path") && Catch::Contains("/no/such/mae.pt"));
  // Before: each cell that trained an MAE failed on these widths (and with train: none none did).
  const std::string bgfdq = "extractor: {kind: none}\ngrid: {method: [\"bgfdq(theta=0.25)\"], ratio: [0.2]}\n";
  CHECK_THROWS_WITH(load_experiment(write_experiment("patches_dim", std::string(kBase) + "patches: {mae_dim: 130}\n" + bgfdq)),
                    Catch::Contains("patches_dim.yaml:5:20 (key 'patches.mae_dim'): patches.mae_dim = 130 must be a "
                                    "multiple of 4 and of mae_heads (4)"));
  CHECK_THROWS_WITH(load_experiment(write_experiment("patches_heads", std::string(kBase) + "patches: {mae_heads: 3}\n" + bgfdq)),
                    Catch::Contains("patches_heads.yaml:5:22 (key 'patches.mae_heads'): patches.mae_dim = 128 must be a "
                                    "multiple of 4 and of mae_heads (3)"));
  // Before: each cell failed once its dataset loaded. synthetic_images declares its image side up front.
  const std::string syn = "name: t\ndatasets:\n  syn: {kind: synthetic_images, classes: 2, image_size: 16}\ntrain: none\n";
  CHECK_THROWS_WITH(load_experiment(write_experiment("patches_tile", syn + "patches: {patch_size: 3}\n" + bgfdq)),
                    Catch::Contains("patches_tile.yaml:5:23 (key 'patches.patch_size'), dataset 'syn': patch size 3 px "
                                    "does not tile 16 x 16 px images exactly"));
  CHECK_NOTHROW(load_experiment(write_experiment("patches_tile_ok", syn + "patches: {patch_size: 8}\n" + bgfdq)));
  // Cells that keep whole images use no patch grid: nothing to refuse.
  CHECK_NOTHROW(load_experiment(write_experiment(
      "patches_tile_whole", syn + "patches: {patch_size: 3}\nextractor: {kind: none}\ngrid: {method: [random], ratio: [0.2]}\n")));
  CHECK_NOTHROW(load_experiment(write_experiment("patches_heads_ok", std::string(kBase) + "patches: {mae_heads: 8}\n" + bgfdq)));
  CHECK_THROWS_WITH(load_experiment(write_experiment("patches_spd", std::string(kBase) + "extractor: {kind: none}\ngrid: {method: [\"bgfdq(spd=maybe)\"], ratio: [0.2]}\n")),
                    Catch::Contains("maybe"));
}

TEST_CASE("a YAML file that is not UTF-8 is refused at its line and column", "[experiment]") {
  // A Latin-1 path used to end in an uncaught JSON exception when the cell's id was computed (fuzzing).
  const std::string file = write_experiment("latin1", "name: t\ndatasets:\n  fm: {kind: fashion_mnist, path: /caf\xe9}\n"
                                                       "train: none\ngrid: {method: [random], ratio: [0.1]}\n");
  CHECK_THROWS_WITH(load_experiment(file), Catch::Contains(file + ":3:39: not UTF-8 text (byte 0xe9)"));
}

TEST_CASE("a list as a key, or a list where a name belongs, is a clear error, not a yaml-cpp exception", "[experiment]") {
  // Both used to escape as YAML::TypedBadConversion, which nothing catches (found by fuzzing).
  const std::string list_key = write_experiment("list_key", "!x[ e]: e]\n");
  CHECK_THROWS_WITH(load_experiment(list_key), Catch::Contains(list_key + ":1:1: a key must be a plain name"));
  const std::string list_name = write_experiment("list_name", std::string(kBase) + "name: [a, b]\ngrid: {method: [random], ratio: [0.1]}\n");
  CHECK_THROWS_AS(load_experiment(list_name), Error);
}
