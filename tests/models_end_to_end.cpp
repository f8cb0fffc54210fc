// End to end through the real binary: YAML -> child processes -> SQLite, on a tiny generated
// Fashion-MNIST-format dataset, then the resume rule on a second run.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include <sstream>

#include "harness/experiment.h"
#include "harness/runner.h"
#include "harness/store.h"
#include "models/models.h"
#include "test_helpers.h"

using namespace dq;

namespace {
int64_t count_rows(Store& store, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(store.handle(), sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}
}  // namespace

TEST_CASE("an experiment runs end to end in child processes and resumes without re-running", "[e2e]") {
  const auto dir = test::scratch_dir("e2e");
  std::filesystem::create_directories(dir / "data");
  test::write_tiny_fashion_mnist(dir / "data", 300, 100);
  const std::string yaml = fmt::format(R"(name: e2e
database: {0}/results/e2e.db
cache_dir: {0}/cache
memory_budget: 4GiB
timeout: 10m
threads: 2
datasets:
  tiny: {{kind: fashion_mnist, path: {0}/data}}
extractor: {{kind: proxy, epochs: 1, batch_size: 32}}
train: {{epochs: 4, batch_size: 32, lr: 0.05, augment: none}}
grid:
  method: [random]
  ratio: [0.5, 1.0]
  seed: [0]
)",
                                       dir.string());
  test::write_text(dir / "e2e.yaml", yaml);
  const Experiment ex = load_experiment((dir / "e2e.yaml").string());
  RunOptions options;
  options.self_exe = DQ_DQBENCH_EXE;
  std::ostringstream log;
  const RunSummary first = run_experiment(ex, options, log);
  INFO(log.str());
  CHECK(first.ran == 2);
  CHECK(first.done == 2);

  Store store(ex.database);
  CHECK(count_rows(store, "SELECT count(*) FROM cells WHERE status='DONE'") == 2);
  CHECK(count_rows(store, "SELECT count(DISTINCT stage) FROM stages WHERE stage IN ('dataset','embed','select','train')") == 4);
  CHECK(count_rows(store, "SELECT count(*) FROM provenance WHERE length(git_commit) > 0 AND cores > 0") == 2);
  // The LibTorch and whether CUDA is compiled in ("2.14.1 (CUDA 13.0)", "1.13.1 (CPU only)").
  CHECK(count_rows(store, fmt::format("SELECT count(*) FROM provenance WHERE torch_version = '{}'", torch_version())) == 2);
  CHECK(count_rows(store, "SELECT count(*) FROM selections WHERE count = 150") == 1);
  // The second cell reuses the first cell's embeddings from the cache.
  CHECK(count_rows(store, "SELECT count(*) FROM metrics WHERE name='embed_from_cache' AND value=1") == 1);
  // The band pattern is learnable: the full-data network beats chance (10%) by far.
  for (const auto& row : store.cells("e2e")) {
    const auto m = store.metrics(row.cell_id);
    CHECK(m.at("sample_ratio") == Approx(row.ratio));
    if (row.ratio == 1.0) CHECK(m.at("top1") > 0.5);
  }

  std::ostringstream log2;
  const RunSummary second = run_experiment(ex, options, log2);
  CHECK(second.ran == 0);
  CHECK(second.skipped_done == 2);
  CHECK(log2.str().find("2 already finished (skipped), 0 to run") != std::string::npos);
}
