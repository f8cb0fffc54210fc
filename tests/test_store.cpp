#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "core/npy.h"
#include "harness/experiment.h"
#include "harness/merge.h"
#include "harness/status.h"
#include "harness/runner.h"
#include "harness/store.h"
#include "report/results_table.h"
#include "models/models.h"
#include "report/results.h"
#include "test_helpers.h"

using namespace dq;

namespace {
Experiment tiny_experiment(const std::filesystem::path& dir) {
  test::write_text(dir / "e.yaml", "name: st\ndatasets: {fm: {kind: fashion_mnist, path: /x}}\ntrain: none\n"
                                   "grid: {method: [random], ratio: [0.1, 0.2], seed: [0, 1]}\n");
  return load_experiment((dir / "e.yaml").string());
}
}  // namespace

TEST_CASE("store round trip: cells, stages, metrics, selection, provenance, final status", "[store]") {
  const auto dir = test::scratch_dir("store_rt");
  const Experiment ex = tiny_experiment(dir);
  const std::string db = (dir / "r.db").string();
  const CellConfig& cell = ex.cells[0];
  {
    Store store(db);
    store.record_experiment(ex);
    const CellRow row = store.ensure_cell(cell);
    CHECK(row.status == CellStatus::Pending);
    CHECK(row.method == "random");
    store.start_cell(cell.id());
    store.record_stage(cell.id(), {"select", 1.5, 1.25, 4096}, {{"sample_ratio", 0.1}});
    // Repeated sub-stages (one per class) add up.
    store.record_stage(cell.id(), {"select/bin_generation", 0.5, 0.25, 100});
    store.record_stage(cell.id(), {"select/bin_generation", 0.75, 0.5, 300});
    store.record_selection(cell.id(), {4, 2, 9}, {1.f, 1.f, 0.75f});
    Provenance provenance;
    provenance.git_commit = "abc";
    provenance.git_dirty = true;
    provenance.host = "host";
    store.finish_cell(cell.id(), CellStatus::Done, "", provenance);
  }
  Store store(db);  // reopened: everything persisted
  const auto row = store.find_cell(cell.id());
  REQUIRE(row);
  CHECK(row->status == CellStatus::Done);
  CHECK(row->heartbeat_age_s >= 0);
  CHECK(store.metrics(cell.id()).at("sample_ratio") == 0.1);
  const auto stages = store.stages(cell.id());
  REQUIRE(stages.size() == 2);
  CHECK(stages[0].wall_s == 1.5);
  CHECK(stages[0].peak_rss_bytes == 4096);
  CHECK(stages[1].name == "select/bin_generation");
  CHECK(stages[1].wall_s == 1.25);
  CHECK(stages[1].cpu_s == 0.75);
  CHECK(stages[1].peak_rss_bytes == 300);
  // Re-running a cell clears its earlier stages, metrics and selection before it starts again.
  store.start_cell(cell.id());
  CHECK(store.stages(cell.id()).empty());
  CHECK(store.metrics(cell.id()).empty());
  CHECK(store.find_cell(cell.id())->status == CellStatus::Running);
  // ensure_cell never resets an existing row.
  CHECK(store.ensure_cell(cell).status == CellStatus::Running);
}

TEST_CASE("store keeps the patch masks and bins a cell recorded, cleared when it runs again", "[store]") {
  const auto dir = test::scratch_dir("store_masks");
  const Experiment ex = tiny_experiment(dir);
  const std::string db = (dir / "r.db").string();
  const CellConfig& cell = ex.cells[0];
  Store store(db);
  store.ensure_cell(cell);
  store.start_cell(cell.id());
  CHECK_FALSE(store.patch_masks(cell.id()));
  CHECK(store.bins(cell.id()).empty());
  store.record_selection(cell.id(), {4, 2, 9}, {0.5f, 1.f, 0.75f});
  const PatchGrid grid{3, 3, 4};
  std::vector<uint8_t> masks(27, 1);
  for (int p : {0, 1, 2, 3}) masks[p] = 0;  // image 0 keeps 5 of 9
  masks[18 + 4] = 0;                        // image 2 keeps 8 of 9
  store.record_patch_masks(cell.id(), grid, masks);
  store.record_bins(cell.id(), {{0, {{4, 9}, {}, {2}}}, {1, {{7}}}});
  const auto sel = store.selection(cell.id());
  REQUIRE(sel);
  CHECK(sel->ids == std::vector<int64_t>{4, 2, 9});
  CHECK(sel->keep == std::vector<float>{0.5f, 1.f, 0.75f});
  CHECK(sel->sha256 == store.selection_hashes().at(cell.id()));
  const auto back = store.patch_masks(cell.id());
  REQUIRE(back);
  CHECK(back->grid.rows == 3);
  CHECK(back->grid.patch == 4);
  CHECK(back->count == 3);
  CHECK(back->masks == masks);
  const auto bins = store.bins(cell.id());
  REQUIRE(bins.size() == 2);
  CHECK(bins[0].label == 0);
  CHECK(bins[0].bins == std::vector<std::vector<int64_t>>{{4, 9}, {}, {2}});
  CHECK(bins[1].bins == std::vector<std::vector<int64_t>>{{7}});
  store.start_cell(cell.id());  // owned already: nothing cleared
  CHECK(store.patch_masks(cell.id()));
  store.set_status(cell.id(), CellStatus::Failed, "x");
  store.start_cell(cell.id());  // a new attempt clears them
  CHECK_FALSE(store.patch_masks(cell.id()));
  CHECK(store.bins(cell.id()).empty());
}

TEST_CASE("resume rule: DONE and OOM are results, FAILED/TIMEOUT only with --retry-failed, stale RUNNING re-runs",
          "[store]") {
  auto row = [](CellStatus s, int64_t age = -1) {
    CellRow r;
    r.status = s;
    r.heartbeat_age_s = age;
    return r;
  };
  CHECK(should_run(row(CellStatus::Pending), false, 120));
  CHECK_FALSE(should_run(row(CellStatus::Done), true, 120));
  CHECK_FALSE(should_run(row(CellStatus::Oom), true, 120));
  CHECK_FALSE(should_run(row(CellStatus::Failed), false, 120));
  CHECK(should_run(row(CellStatus::Failed), true, 120));
  CHECK(should_run(row(CellStatus::Timeout), true, 120));
  CHECK_FALSE(should_run(row(CellStatus::Running, 5), false, 120));
  CHECK(should_run(row(CellStatus::Running, 500), false, 120));
}

TEST_CASE("table groups seeds into mean ± std per (dataset, method, ratio)", "[store]") {
  const auto dir = test::scratch_dir("store_table");
  const Experiment ex = tiny_experiment(dir);
  Store store((dir / "t.db").string());
  store.record_experiment(ex);
  const double top1[4] = {0.80, 0.82, 0.90, 0.0};
  for (size_t i = 0; i < ex.cells.size(); ++i) {
    const auto id = ex.cells[i].id();
    store.ensure_cell(ex.cells[i]);
    store.start_cell(id);
    if (i == 3) {
      store.finish_cell(id, CellStatus::Oom, "out of memory", {});
      continue;
    }
    store.record_stage(id, {"train", 1, 1, 1}, {{"top1", top1[i]}});
    store.finish_cell(id, CellStatus::Done, "", {});
  }
  const std::string md = render_results_table(store, "st", TableFormat::Markdown);
  INFO(md);
  // ratio 0.1: seeds 0 and 1 -> 81.00 ± 1.41 (sample std of 80, 82); ratio 0.2: one DONE, one OOM.
  CHECK(md.find("| fm | random | 0.1 | 2 | 81.00 ± 1.41 |") != std::string::npos);
  CHECK(md.find("| fm | random | 0.2 | 1 | 90.00 |") != std::string::npos);
  CHECK(md.find("DONE:1 OOM:1") != std::string::npos);
}

TEST_CASE("table: improvement over the baseline, paired by seed, by hand; the budget protocol heads it", "[store]") {
  const auto dir = test::scratch_dir("store_table_baseline");
  const std::vector<int64_t> ids = {0, 1};
  write_npy((dir / "theirs.npy").string(), ids.data(), {2});
  test::write_text(dir / "e.yaml",
                   "name: tb\ndatasets: {fm: {kind: fashion_mnist, path: /x}}\ntrain: {epochs: 3}\n"
                   "grid: {method: [random, {name: indices, file: " +
                       (dir / "theirs.npy").string() + ", label: theirs}], ratio: [0.1], seed: [0, 1, 2]}\n");
  const Experiment ex = load_experiment((dir / "e.yaml").string());
  REQUIRE(ex.cells.size() == 6);
  Store store((dir / "t.db").string());
  store.record_experiment(ex);
  // Random {80, 82, 81}, theirs {83, 84, 85}: differences {3, 2, 4} points, mean 3, sd 1, half-width
  // t(0.975, 2) / sqrt(3) = 2.484.
  const std::map<std::string, std::vector<double>> top1 = {{"random", {0.80, 0.82, 0.81}},
                                                           {"indices", {0.83, 0.84, 0.85}}};
  for (const auto& cell : ex.cells) {
    store.ensure_cell(cell);
    store.start_cell(cell.id());
    store.record_metrics(cell.id(), {{"top1", top1.at(cell.method.name)[static_cast<size_t>(cell.seed)]},
                                     {"train_steps", 12.0 + static_cast<double>(cell.seed)},
                                     {"storage_ratio", 0.1}});
    store.finish_cell(cell.id(), CellStatus::Done, "", {});
  }
  const std::string md = render_results_table(store, "tb", TableFormat::Markdown);
  INFO(md);
  CHECK(md.find("budget protocol: equal epochs (3 epochs on every coreset") == 0);
  CHECK(md.find("| dataset | method | ratio | seeds | top-1 % | vs random (pp) | best-epoch top-1 % | steps |") !=
        std::string::npos);
  CHECK(md.find("| fm | random | 0.1 | 3 | 81.00 ± 1.00 | baseline | - | 13 | - | 10.00 |") != std::string::npos);
  CHECK(md.find("| fm | theirs | 0.1 | 3 | 84.00 ± 1.00 | +3.00 [+0.52, +5.48] |") != std::string::npos);
  // Any method by its label; none of that name: the column stays and the table says why it is empty.
  const std::string by_theirs = render_results_table(store, "tb", TableFormat::Markdown, "Theirs");
  CHECK(by_theirs.find("| fm | random | 0.1 | 3 | 81.00 ± 1.00 | -3.00 [-5.48, -0.52] |") != std::string::npos);
  const std::string none = render_results_table(store, "tb", TableFormat::Terminal, "dq");
  CHECK(none.find("no 'dq' cells here: the 'vs dq (pp)' column is empty") != std::string::npos);
}

TEST_CASE("table: cells of different configurations under one label are rows of their own, never seeds",
          "[store]") {
  // Two coresets labelled alike (as two `indices` files with one label, or one method under two
  // `patches:` settings): same dataset, ratio and seed, different cell ids. Each is its own row, told
  // apart by the parameter in which they differ; neither averages the other in.
  const auto dir = test::scratch_dir("store_table_variants");
  const std::vector<int64_t> a = {0, 1}, b = {2, 3};
  write_npy((dir / "a.npy").string(), a.data(), {2});
  write_npy((dir / "b.npy").string(), b.data(), {2});
  test::write_text(dir / "e.yaml", "name: tv\ndatasets: {fm: {kind: fashion_mnist, path: /x}}\ntrain: {epochs: 3}\n"
                                   "grid: {method: [{name: indices, file: " + (dir / "a.npy").string() +
                                       ", label: mine}, {name: indices, file: " + (dir / "b.npy").string() +
                                       ", label: mine}], ratio: [0.1], seed: [0]}\n");
  const Experiment ex = load_experiment((dir / "e.yaml").string());
  REQUIRE(ex.cells.size() == 2);
  REQUIRE(ex.cells[0].id() != ex.cells[1].id());
  Store store((dir / "t.db").string());
  store.record_experiment(ex);
  for (const auto& cell : ex.cells) {
    store.ensure_cell(cell);
    store.start_cell(cell.id());
    const bool first = cell.method.params.get_string("file").find("a.npy") != std::string::npos;
    store.record_metrics(cell.id(), {{"top1", first ? 0.80 : 0.90}, {"storage_ratio", first ? 0.5 : 0.375}});
    store.finish_cell(cell.id(), CellStatus::Done, "", {});
  }
  const std::string md = render_results_table(store, "tv", TableFormat::Markdown);
  INFO(md);
  const std::string file_a = "file=" + (dir / "a.npy").string(), file_b = "file=" + (dir / "b.npy").string();
  CHECK(md.find("| fm | mine (" + file_a) != std::string::npos);
  CHECK(md.find("| fm | mine (" + file_b) != std::string::npos);
  CHECK(md.find("| 0.1 | 1 | 80.00 | - | - | - | - | 50.00 |") != std::string::npos);
  CHECK(md.find("| 0.1 | 1 | 90.00 | - | - | - | - | 37.50 |") != std::string::npos);
  CHECK(md.find("| 2 |") == std::string::npos);  // no row counts two seeds
}

TEST_CASE("the budget protocol names equal epochs, a step floor, or equal steps, with a partial epoch",
          "[store]") {
  CHECK(budget_protocol_text({}) == "no training (selection only)");
  CHECK(budget_protocol_text({{"epochs", "1"}}).find("equal epochs (1 epoch on every coreset") == 0);
  CHECK(budget_protocol_text({{"epochs", "6"}, {"min_steps", "300"}}).find("equal epochs with a floor (6 epochs") == 0);
  // airbench94: 9 epochs + 0.9 of a tenth; with budget: steps every coreset gets the full set's steps.
  CHECK(budget_protocol_text({{"epochs", "9"}, {"partial_epoch", "0.9"}}).find("equal epochs (9.9 epochs") == 0);
  CHECK(budget_protocol_text({{"epochs", "9"}, {"partial_epoch", "0.9"}, {"budget", "steps"}})
            .find("equal steps (every coreset trains for the optimiser steps of 9.9 epochs on the full") == 0);
}

TEST_CASE("the store refuses a NaN or infinite metric, naming it and the cell, and writes nothing", "[store][hygiene]") {
  const auto dir = test::scratch_dir("store_finite");
  const Experiment ex = tiny_experiment(dir);
  const std::string db = (dir / "r.db").string();
  const std::string id = ex.cells[0].id();
  Store store(db);
  store.record_experiment(ex);
  store.ensure_cell(ex.cells[0]);
  store.start_cell(id);
  CHECK_THROWS_WITH(store.record_stage(id, {"metrics", 0.1, 0.1, 1}, {{"coverage_mean", 2.0},
                                                                      {"coverage_max", std::numeric_limits<double>::infinity()}}),
                    db + ": cell " + id.substr(0, 12) + ": metric 'coverage_max' is +inf; the store keeps only finite metrics");
  CHECK(store.stages(id).empty());  // the stage row of the refused call is not written either
  CHECK(store.metrics(id).empty());
  CHECK_THROWS_WITH(store.record_metrics(id, {{"train_loss", std::nan("")}}),
                    db + ": cell " + id.substr(0, 12) + ": metric 'train_loss' is NaN; the store keeps only finite metrics");
  CHECK(store.metrics(id).empty());
  store.record_metrics(id, {{"top1", 0.5}});
  CHECK(store.metrics(id).at("top1") == 0.5);
}

TEST_CASE("a hostile database (a view, trigger or generated column in it) is refused, never run", "[store][hygiene]") {
  const auto dir = test::scratch_dir("store_hostile");
  const Experiment ex = tiny_experiment(dir);
  const std::string good = (dir / "good.db").string();
  {
    Store s(good);
    s.ensure_cells(ex.cells);
  }
  // Each trick turns the good database into a hostile one. The first used to hang `dqbench table` and
  // `status` for ever: their SELECT on `cells` ran the view's endless recursive query.
  const std::vector<std::pair<std::string, std::string>> tricks = {
      {"view", "ALTER TABLE cells RENAME TO real_cells; CREATE VIEW cells AS WITH RECURSIVE r(i) AS (SELECT 1 "
               "UNION ALL SELECT i + 1 FROM r) SELECT c.* FROM real_cells c, r"},
      {"trigger", "CREATE TRIGGER t AFTER INSERT ON metrics BEGIN DELETE FROM cells; END"},
      {"generated", "CREATE TABLE notes(a TEXT, b TEXT GENERATED ALWAYS AS (printf('%.*c', 1000000000, 'x')))"},
  };
  for (const auto& [name, sql] : tricks) {
    INFO(name);
    const std::string bad = (dir / (name + ".db")).string();
    std::filesystem::copy_file(good, bad, std::filesystem::copy_options::overwrite_existing);
    {
      Store s(bad);
      s.exec(sql);
    }
    CHECK_THROWS_WITH(Store(bad, OpenMode::ReadOnly), Catch::Contains(bad) && Catch::Contains("not a dqbench results database"));
    CHECK_THROWS_WITH(load_results({bad}), Catch::Contains("not a dqbench results database"));
    // merge refuses it before writing anything to the output.
    const std::string out = (dir / (name + "_merged.db")).string();
    std::ostringstream log;
    CHECK_THROWS_WITH(merge_databases(out, {bad}, log), Catch::Contains("not a dqbench results database"));
    {
      Store merged(out, OpenMode::ReadOnly);
      CHECK(merged.cells().empty());
    }
  }
  // The good one still reads.
  Store ok(good, OpenMode::ReadOnly);
  CHECK(ok.cells().size() == ex.cells.size());
  CHECK_THAT(render_status(ok, ""), Catch::Contains("4 cells"));
}
