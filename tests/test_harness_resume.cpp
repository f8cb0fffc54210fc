// The harness's kill-safe resume, claims, ownership fencing, merge, filters and pre-run checks,
// without spawning cells (tests/cli/fault_test.sh drives the real binary).
#include <catch2/catch.hpp>
#include <unistd.h>

#include <atomic>
#include <map>
#include <sstream>
#include <thread>

#include "core/atomic_file.h"
#include "core/error.h"
#include "harness/cell_filter.h"
#include "harness/experiment.h"
#include "harness/merge.h"
#include "harness/preflight.h"
#include "harness/runner.h"
#include "harness/slurm.h"
#include "harness/sql.h"
#include "harness/status.h"
#include "harness/store.h"
#include "report/results.h"
#include "test_helpers.h"

using namespace dq;

namespace {

Experiment synthetic_experiment(const std::filesystem::path& dir, const std::string& name = "hr",
                                const std::string& methods = "[random]") {
  test::write_text(dir / (name + ".yaml"),
                   "name: " + name + "\ndatabase: " + (dir / (name + ".db")).string() +
                       "\ndatasets: {syn: {kind: synthetic_embeddings, classes: 2, per_class: 50, dim: 8}}\n"
                       "extractor: {kind: none}\ntrain: none\n"
                       "grid: {method: " + methods + ", ratio: [0.1, 0.2], seed: [0, 1]}\n");
  return load_experiment((dir / (name + ".yaml")).string());
}

int64_t count(Store& store, const std::string& sql) {
  Statement s(store.handle(), sql, store.path());
  s.step();
  return s.integer(0);
}

CellRow running_row(ProcessIdentity owner, int64_t heartbeat_age) {
  CellRow r;
  r.status = CellStatus::Running;
  r.owner = std::move(owner);
  r.heartbeat_age_s = heartbeat_age;
  return r;
}

}  // namespace

TEST_CASE("resume: a RUNNING cell of a dead process on this host is redone at once, a live one never",
          "[harness]") {
  ClaimPolicy policy;  // stale after 120 s
  const ProcessIdentity me = ProcessIdentity::self();
  CHECK(liveness(me) == Liveness::Alive);
  CHECK_FALSE(decide_resume(running_row(me, 5), policy).run);
  CHECK_FALSE(decide_resume(running_row(me, 100000), policy).run);  // alive beats a stale heartbeat

  ProcessIdentity reused = me;  // same pid, another start time: the pid was reused
  reused.start += "0";
  CHECK(liveness(reused) == Liveness::Dead);
  const ResumeDecision d = decide_resume(running_row(reused, 1), policy);
  CHECK(d.run);  // with a fresh heartbeat: no waiting
  CHECK(d.reason.find("gone") != std::string::npos);

  ProcessIdentity elsewhere{"another-host.example", 42, "boot/1"};
  CHECK(liveness(elsewhere) == Liveness::Unknown);
  CHECK_FALSE(decide_resume(running_row(elsewhere, 10), policy).run);
  CHECK(decide_resume(running_row(elsewhere, 500), policy).run);

  CellRow done;
  done.status = CellStatus::Done;
  CHECK_FALSE(decide_resume(done, policy).run);
  policy.force = true;
  CHECK(decide_resume(done, policy).run);
}

TEST_CASE("claim: of many concurrent claims on one cell exactly one wins, a finished cell is not claimed again",
          "[harness]") {
  const auto dir = test::scratch_dir("harness_claim");
  const Experiment ex = synthetic_experiment(dir);
  { Store(ex.database).record_experiment(ex); }
  // Threads of one process share its identity, so the first claim makes the cell RUNNING in a live
  // process and every later claim sees it as such.
  std::atomic<int> claimed{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      try {
        Store store(ex.database);
        if (store.claim_cell(ex.cells[0], {}).claimed) ++claimed;
      } catch (const std::exception&) {
        ++errors;  // "database is locked" would land here
      }
    });
  for (auto& t : threads) t.join();
  CHECK(errors == 0);
  CHECK(claimed == 1);
  Store store(ex.database);
  const auto row = store.find_cell(ex.cells[0].id());
  CHECK(row->status == CellStatus::Running);
  CHECK(row->attempts == 1);
  CHECK(row->owner == ProcessIdentity::self());
  store.finish_cell(ex.cells[0].id(), CellStatus::Done, "", {});
  CHECK_FALSE(store.claim_cell(ex.cells[0], {}).claimed);
}

TEST_CASE("fencing: a process whose cell was taken over cannot write to the new attempt, attempts never add up",
          "[harness]") {
  const auto dir = test::scratch_dir("harness_fence");
  const Experiment ex = synthetic_experiment(dir);
  Store store(ex.database);
  const std::string id = ex.cells[0].id();
  REQUIRE(store.claim_cell(ex.cells[0], {}).claimed);
  store.record_stage(id, {"select", 4.0, 4.0, 1});
  // Another runner finds our process gone and takes the cell over (simulated: a new owner).
  store.exec("UPDATE cells SET pid = pid + 1000000, attempts = attempts + 1 WHERE cell_id = '" + id + "'");
  CHECK_THROWS_WITH(store.record_stage(id, {"select", 5.0, 5.0, 1}), Catch::Contains("no longer owned"));
  CHECK_THROWS(store.finish_cell(id, CellStatus::Done, "", {}));
  store.heartbeat(id);  // ignored, not an error
  // The new owner's attempt starts from a clean slate: stage times are not summed across attempts.
  store.exec("UPDATE cells SET status='FAILED' WHERE cell_id = '" + id + "'");
  ClaimPolicy retry;
  retry.retry_failed = true;
  const ClaimResult again = store.claim_cell(ex.cells[0], retry);
  REQUIRE(again.claimed);
  CHECK(again.attempt == 3);
  CHECK(store.stages(id).empty());
  store.record_stage(id, {"select", 5.0, 5.0, 1});
  REQUIRE(store.stages(id).size() == 1);
  CHECK(store.stages(id)[0].wall_s == 5.0);
  // The runner's record for a dead child applies only while that child still owns the row.
  CHECK_FALSE(store.end_abandoned(id, ProcessIdentity{"h", 1, "x"}, CellStatus::Failed, "no"));
  CHECK(store.end_abandoned(id, ProcessIdentity::self(), CellStatus::Failed, "died"));
  CHECK(store.find_cell(id)->status == CellStatus::Failed);
}

TEST_CASE("read-only open: never creates or writes, reads what is there", "[harness]") {
  const auto dir = test::scratch_dir("harness_ro");
  const Experiment ex = synthetic_experiment(dir);
  CHECK_THROWS_WITH(Store(ex.database, OpenMode::ReadOnly), Catch::Contains("no such database"));
  CHECK_FALSE(std::filesystem::exists(ex.database));
  {
    Store rw(ex.database);
    rw.record_experiment(ex);
    rw.ensure_cells(ex.cells);
  }
  Store ro(ex.database, OpenMode::ReadOnly);
  CHECK(ro.cells("hr").size() == 4);
  CHECK_THROWS(ro.set_status(ex.cells[0].id(), CellStatus::Done, ""));
  CHECK(render_status(ro, "hr").find("4 PENDING") != std::string::npos);
}

TEST_CASE("read-only open of a database written before the kill-safe columns existed", "[harness]") {
  // results/*.db committed before cells.host/pid/pid_start and experiments.definition: table, cells and
  // status open them read-only and cannot add the columns (an SQL error before the fix).
  const auto dir = test::scratch_dir("harness_ro_old");
  const Experiment ex = synthetic_experiment(dir);
  {
    Store rw(ex.database);
    rw.record_experiment(ex);
    rw.ensure_cells(ex.cells);
    for (const char* column : {"host", "pid", "pid_start"})
      Statement(rw.handle(), std::string("ALTER TABLE cells DROP COLUMN ") + column, rw.path()).run();
    Statement(rw.handle(), "ALTER TABLE experiments DROP COLUMN definition", rw.path()).run();
  }
  Store ro(ex.database, OpenMode::ReadOnly);
  const auto cells = ro.cells("hr");
  REQUIRE(cells.size() == 4);
  CHECK(cells[0].owner.host.empty());
  CHECK(render_status(ro, "hr").find("4 PENDING") != std::string::npos);
  {
    Store rw(ex.database);  // a writer adds the columns for good
  }
  Store ro_again(ex.database, OpenMode::ReadOnly);
  CHECK(count(ro_again, "SELECT count(*) FROM main.pragma_table_info('cells') WHERE name='pid_start'") == 1);
}

TEST_CASE("merge: newest finished attempt per cell, idempotent, refuses another matrix", "[harness]") {
  const auto dir = test::scratch_dir("harness_merge");
  const Experiment ex = synthetic_experiment(dir);
  const std::string a = (dir / "a.db").string(), b = (dir / "b.db").string(), out = (dir / "out.db").string();
  auto finish = [&](const std::string& db, size_t cell, CellStatus status, double wall) {
    Store s(db);
    s.record_experiment(ex);
    REQUIRE(s.claim_cell(ex.cells[cell], {}).claimed);
    s.record_stage(ex.cells[cell].id(), {"select", wall, wall, 1});
    s.record_selection(ex.cells[cell].id(), {static_cast<int64_t>(cell)}, {1.f});
    s.record_patch_masks(ex.cells[cell].id(), PatchGrid{1, 2, 4}, {1, static_cast<uint8_t>(wall > 1.5)});
    s.finish_cell(ex.cells[cell].id(), status, status == CellStatus::Done ? "" : "boom", {});
  };
  finish(a, 0, CellStatus::Failed, 1.0);  // older attempt of cell 0 failed ...
  finish(a, 1, CellStatus::Done, 1.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  finish(b, 0, CellStatus::Done, 2.0);    // ... the newer one succeeded
  { Store s(b); s.ensure_cell(ex.cells[2]); }  // PENDING in b only
  std::ostringstream log;
  const MergeSummary first = merge_databases(out, {a, b}, log);
  CHECK(first.shards == 2);
  auto snapshot = [&] {
    Store s(out, OpenMode::ReadOnly);
    std::string text;
    for (const auto& r : s.cells()) text += r.cell_id + status_name(r.status) + r.finished + "\n";
    for (const auto& [id, h] : s.selection_hashes()) text += id + h + "\n";
    text += std::to_string(count(s, "SELECT count(*) FROM stages")) + std::to_string(count(s, "SELECT count(*) FROM metrics"));
    return text;
  };
  {
    Store s(out, OpenMode::ReadOnly);
    CHECK(s.find_cell(ex.cells[0].id())->status == CellStatus::Done);
    CHECK(s.stages(ex.cells[0].id()).at(0).wall_s == 2.0);
    CHECK(s.find_cell(ex.cells[1].id())->status == CellStatus::Done);
    CHECK(s.find_cell(ex.cells[2].id())->status == CellStatus::Pending);
    CHECK(count(s, "SELECT count(*) FROM stages") == 2);
    // The masks travel with the attempt that won: b's (its second patch kept).
    CHECK(s.patch_masks(ex.cells[0].id())->masks == std::vector<uint8_t>{1, 1});
    CHECK(s.patch_masks(ex.cells[1].id())->masks == std::vector<uint8_t>{1, 0});
  }
  const std::string once = snapshot();
  const MergeSummary second = merge_databases(out, {a, b}, log);
  CHECK(second.cells_added + second.cells_replaced == 0);
  CHECK(snapshot() == once);
  // Merging in the other order gives the same cells.
  const std::string out2 = (dir / "out2.db").string();
  merge_databases(out2, {b, a}, log);
  {
    Store s(out2, OpenMode::ReadOnly);
    CHECK(s.find_cell(ex.cells[0].id())->status == CellStatus::Done);
  }

  // A shard of another definition of the same experiment name is refused, and nothing is written.
  const auto other_dir = dir / "other";
  std::filesystem::create_directories(other_dir);
  const Experiment other = synthetic_experiment(other_dir, "hr", "[random, \"bgfdq(k=5)\"]");
  const std::string c = (other_dir / "hr.db").string();
  {
    Store s(c);
    s.record_experiment(other);
    s.ensure_cells(other.cells);
  }
  CHECK_THROWS_WITH(merge_databases(out, {c}, log), Catch::Contains("another matrix"));
  CHECK(snapshot() == once);
}

TEST_CASE("force filters and shard selection", "[harness]") {
  const auto dir = test::scratch_dir("harness_filter");
  const Experiment ex = synthetic_experiment(dir, "hr", "[random, \"bgfdq(k=5)\"]");
  auto matching = [&](const std::string& text) {
    const CellFilter f = parse_cell_filter(text, "--force");
    int n = 0;
    for (const auto& c : ex.cells) n += f.matches(c);
    return n;
  };
  CHECK(matching("all") == 8);
  CHECK(matching("method=bgfdq") == 4);
  CHECK(matching("method=bgfdq,ratio=0.1") == 2);
  CHECK(matching("method=random ratio=0.2 seed=1") == 1);
  CHECK(matching("id=" + ex.cells[3].id().substr(0, 8)) == 1);
  CHECK_THROWS_WITH(parse_cell_filter("mehtod=dq", "--force"), Catch::Contains("unknown key 'mehtod'"));
  CHECK_THROWS_WITH(parse_cell_filter("dq", "--force"), Catch::Contains("not a key=value"));
  CHECK(parse_shard("2/4") == std::pair<int64_t, int64_t>{1, 4});
  CHECK_THROWS(parse_shard("5/4"));
  CHECK_THROWS(parse_shard("0/4"));
  CHECK_THROWS(parse_shard("1/x"));
}

TEST_CASE("before running: missing dataset files, methods needing images, a missing extractor", "[harness]") {
  const auto dir = test::scratch_dir("harness_preflight");
  test::write_text(dir / "e.yaml",
                   "name: pf\ndatasets:\n  fm: {kind: fashion_mnist, path: " + (dir / "nowhere").string() +
                       "}\n  syn: {kind: synthetic_embeddings, classes: 2, per_class: 20, dim: 4}\n"
                       "extractor: {kind: none}\ntrain: none\n"
                       "grid: {dataset: [fm, syn], method: [random, adq], ratio: [0.5]}\n");
  const Experiment ex = load_experiment((dir / "e.yaml").string());
  const auto problems = check_before_running(ex);
  const std::string all = render_preflight_problems(problems);
  INFO(all);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].kind == PreflightProblem::Kind::MissingData);
  CHECK(problems[1].kind == PreflightProblem::Kind::Config);
  CHECK(all.find("[data] " + ex.file + ": dataset 'fm'") != std::string::npos);
  CHECK(all.find("[config] " + ex.file + ": method 'adq' needs the training images, but dataset 'syn'") !=
        std::string::npos);
  CHECK_THROWS_WITH(require_runnable(ex), Catch::Contains("nothing was run or written"));
  CHECK(dry_run_exit_code(problems) == 2);                                       // a config problem wins
  CHECK(dry_run_exit_code({problems[0]}) == 4);                                  // only data missing
  CHECK(dry_run_exit_code({}) == 0);
  CHECK(render_preflight_problems({}).empty());
}

TEST_CASE("an unwritable cache folder degrades to no cache with one warning", "[harness]") {
  const auto dir = test::scratch_dir("harness_cache_dir");
  test::write_text(dir / "file", "x");
  std::ostringstream warn;
  CHECK(preflight_cache_dir((dir / "file" / "cache").string(), warn).empty());  // under a file: ENOTDIR
  CHECK(warn.str().find("cannot be written") != std::string::npos);
  std::ostringstream quiet;
  CHECK(preflight_cache_dir((dir / "ok").string(), quiet) == (dir / "ok").string());
  CHECK(quiet.str().empty());
}

TEST_CASE("atomic cache writes: no temporary left on failure, a failed cache write is a warning", "[harness]") {
  const auto dir = test::scratch_dir("harness_atomic");
  const std::string path = (dir / "f.bin").string();
  {
    AtomicFileWriter w(path);
    w.write("abc", 3);
    CHECK(std::filesystem::exists(w.temporary_path()));
    AtomicFileWriter other(path);  // a concurrent writer gets its own temporary
    CHECK(other.temporary_path() != w.temporary_path());
  }  // destroyed without commit
  CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) == 0);
  CHECK(write_cache_file(path, "test", [](AtomicFileWriter& w) { w.write("abc", 3); }));
  CHECK(std::filesystem::file_size(path) == 3);
  CHECK_FALSE(write_cache_file(path, "test", [](AtomicFileWriter&) { throw Error("disk full"); }));
  CHECK(std::filesystem::file_size(path) == 3);  // the old file stands
  CHECK_FALSE(write_cache_file((dir / "f.bin" / "x").string(), "test", [](AtomicFileWriter&) {}));
  CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("dry run: dense GraphCut is 4*M^2 and marked OOM over the budget, slurm array ranges", "[harness]") {
  const auto dir = test::scratch_dir("harness_dry");
  test::write_text(dir / "e.yaml",
                   "name: dry\nmemory_budget: 1MiB\ndatasets: {syn: {kind: synthetic_embeddings, classes: 2, "
                   "per_class: 1000, dim: 8}}\nextractor: {kind: none}\ntrain: none\n"
                   "grid: {method: [random, \"dq(mode=memo)\", \"dq(mode=streaming)\"], ratio: [0.1]}\n");
  const Experiment ex = load_experiment((dir / "e.yaml").string());
  REQUIRE(ex.cells.size() == 3);
  CHECK(estimate_peak(ex.cells[0]).declared_bytes == 0);
  CHECK(estimate_peak(ex.cells[1]).declared_bytes == 4 * 1000 * 1000 + 4 * 1000 * 8);
  CHECK(estimate_peak(ex.cells[2]).declared_bytes < (1 << 20));
  const std::string text = render_dry_run(ex, nullptr);
  INFO(text);
  CHECK(text.find("1 will end OOM") != std::string::npos);
  CHECK(slurm_array_ranges({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8");
  CHECK(slurm_array_ranges({3}) == "3");
}

TEST_CASE("dry run: a K sweep's cells are estimated at the k its graph is built at", "[harness]") {
  const auto dir = test::scratch_dir("harness_dry_ksweep");
  test::write_text(dir / "e.yaml",
                   "name: dry\ndatasets: {syn: {kind: synthetic_embeddings, classes: 2, per_class: 1000, dim: 8}}\n"
                   "extractor: {kind: none}\ntrain: none\n"
                   "grid: {method: [\"bgfdq(k=5)\", \"bgfdq(k=40)\", \"bgfdq(k=5,knn=clustered)\"], ratio: [0.1]}\n");
  const Experiment ex = load_experiment((dir / "e.yaml").string());
  REQUIRE(ex.cells.size() == 3);
  CHECK(knn_sweep_k(ex, ex.cells[0]) == 40);
  CHECK(knn_sweep_k(ex, ex.cells[1]) == 40);
  CHECK(knn_sweep_k(ex, ex.cells[2]) == 5);  // another search mode: its own graph
  CHECK(estimate_peak(ex.cells[0], 40).declared_bytes == estimate_peak(ex.cells[1]).declared_bytes);
  const std::string text = render_dry_run(ex, nullptr);
  INFO(text);
  CHECK(text.find("(k=40)") != std::string::npos);
  CHECK(text.find("(k=5) + tile") != std::string::npos);  // the clustered cell
}

TEST_CASE("a DONE cell below its recall target says so in the status", "[harness]") {
  // BGFDQ records per class whether its approximate neighbours stayed below the recall target
  // (knn_recall_below_target); the status names such cells instead of a plain DONE.
  const auto dir = test::scratch_dir("harness_recall_target");
  const Experiment ex = synthetic_experiment(dir);
  Store store(ex.database);
  store.record_experiment(ex);
  store.ensure_cells(ex.cells);
  ClaimPolicy policy;
  for (size_t c = 0; c < 2; ++c) {
    const std::string id = ex.cells[c].id();
    REQUIRE(store.claim_cell(ex.cells[c], policy).claimed);
    store.record_metrics(id, {{"diag_knn_recall_below_target_mean", c == 0 ? 0.5 : 0.0},
                              {"diag_knn_recall_at_k_mean", c == 0 ? 0.863 : 0.995},
                              {"diag_knn_recall_target_mean", 0.99}});
    store.finish_cell(id, CellStatus::Done, "", Provenance{});
  }
  const std::string status = render_status(store, "hr");
  CHECK_THAT(status, Catch::Contains("2 DONE") && Catch::Contains("(1 DONE below its recall target)"));
  CHECK_THAT(status, Catch::Contains(ex.cells[0].id().substr(0, 12) + "  ") &&
                         Catch::Contains("DONE below its recall target (recall@k 0.8630 < 0.99)"));
  // The other cell kept its target: no line of the status calls it below.
  for (size_t at = status.find(ex.cells[1].id().substr(0, 12)); at != std::string::npos;
       at = status.find(ex.cells[1].id().substr(0, 12), at + 1))
    CHECK(status.substr(at, status.find('\n', at) - at).find("below") == std::string::npos);
}

TEST_CASE("a cell that two experiments' matrices share is recorded for both and reported in both",
          "[harness][report]") {
  const auto dir = test::scratch_dir("shared_cells");
  const std::string db = (dir / "shared.db").string();
  const std::string common = "database: " + db +
                             "\ndatasets: {syn: {kind: synthetic_embeddings, classes: 2, per_class: 50, dim: 8}}\n"
                             "extractor: {kind: none}\ntrain: none\n";
  test::write_text(dir / "first.yaml", "name: first\n" + common + "grid: {method: [random], ratio: [0.2], seed: [0]}\n");
  test::write_text(dir / "second.yaml",
                   "name: second\n" + common + "grid: {method: [random, bgfdq], ratio: [0.2], seed: [0]}\n");
  const Experiment first = load_experiment((dir / "first.yaml").string());
  const Experiment second = load_experiment((dir / "second.yaml").string());
  REQUIRE(first.cells.size() == 1);
  REQUIRE(second.cells.size() == 2);
  const std::string shared = first.cells[0].id();
  REQUIRE(second.cells[0].id() == shared);  // the id hashes the configuration, not the experiment
  {
    Store store(db);
    store.ensure_cells(first.cells);
    store.ensure_cells(second.cells);
    store.ensure_cells(second.cells);  // a second run records nothing twice
    CHECK(store.find_cell(shared)->experiment == "first");  // the row keeps the experiment that ran it first
    CHECK(store.other_experiments(shared, "first") == std::vector<std::string>{"second"});
    CHECK(store.other_experiments(second.cells[1].id(), "second").empty());
    CHECK(count(store, "SELECT count(*) FROM experiment_cells") == 3);
    CHECK(store.cells("first").size() == 1);
    CHECK(store.cells("second").size() == 2);  // status and verify see the shared cell too
    CHECK(store.cells().size() == 2);
  }
  const ResultSet rs = load_results({db});
  std::map<std::string, std::vector<std::string>> by_experiment;
  for (const CellResult& c : rs.cells) by_experiment[c.experiment].push_back(c.method_name);
  CHECK(by_experiment["first"] == std::vector<std::string>{"random"});
  CHECK(by_experiment["second"] == std::vector<std::string>{"bgfdq", "random"});
}
