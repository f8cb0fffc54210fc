// Artefact identity (issue 18): build-time code identities, content hashes of cache files (with a
// sidecar that never lets a rewritten file pass), keys made of inputs' content and producers' code,
// what cells record, `dqbench verify`'s checks, and tables that never average or pair cells of
// different upstream artefacts.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <utime.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "core/code_identity.h"
#include "core/content_hash.h"
#include "core/error.h"
#include "core/hashing.h"
#include "core/npy.h"
#include "datasets/dataset.h"
#include "datasets/decode_cache.h"
#include "harness/cell_artefacts.h"
#include "harness/experiment.h"
#include "harness/merge.h"
#include "harness/store.h"
#include "report/results_table.h"
#include "harness/verify.h"
#include "methods/graphcut/graphcut.h"
#include "methods/knn/knn.h"
#include "report/cell_groups.h"
#include "report/integrity.h"
#include "tests/test_bgfdq_data.h"
#include "tests/test_helpers.h"

using namespace dq;

namespace {

// Sets DQ_CODE_IDENTITY_SALT for its lifetime.
class Salt {
 public:
  explicit Salt(const std::string& value) { setenv("DQ_CODE_IDENTITY_SALT", value.c_str(), 1); }
  ~Salt() { unsetenv("DQ_CODE_IDENTITY_SALT"); }
};

}  // namespace

TEST_CASE("code identities: one per producer, in the table's order, salted only where asked", "[artefacts]") {
  REQUIRE(detail::kGeneratedProducerCount == kProducerCount);
  for (size_t i = 0; i < kProducerCount; ++i) {
    const auto p = static_cast<Producer>(i);
    INFO(producer_name(p));
    CHECK(std::string(detail::kGeneratedProducerIdentities[i].name) == producer_name(p));  // cmake/producers.cmake order
    CHECK(code_identity(p).size() == 64);
    CHECK(code_identity_source_count(p) > 0);
  }
  CHECK(code_identity(Producer::KnnGraph) != code_identity(Producer::Bins));
  CHECK(build_code_identity().size() == 64);
  CHECK(library_versions().find("torch ") != std::string::npos);
  const std::string graph = code_identity(Producer::KnnGraph), bins = code_identity(Producer::Bins);
  {
    Salt salt("knn_graph=edited");
    CHECK(code_identity(Producer::KnnGraph) == sha256_hex(graph + "|salt:edited"));
    CHECK(code_identity(Producer::Bins) == bins);
    CHECK(code_identities().at("knn_graph") == code_identity(Producer::KnnGraph));
  }
  CHECK(code_identity(Producer::KnnGraph) == graph);
  Salt wrong("knn=edited");
  CHECK_THROWS_WITH(code_identity(Producer::KnnGraph), Catch::Contains("DQ_CODE_IDENTITY_SALT") && Catch::Contains("knn_graph"));
}

TEST_CASE("content hash: the sidecar serves an unchanged file's hash and never a rewritten file's", "[artefacts]") {
  const auto dir = test::scratch_dir("content_hash");
  const auto path = dir / "a.bin";
  test::write_text(path, "first version");
  const std::string first = file_content_sha256(path.string());
  CHECK(first == sha256_file_hex(path.string()));
  REQUIRE(std::filesystem::exists(content_hash_sidecar(path.string())));

  // An in-place rewrite of the same size, even with its mtime set back (cp -p, touch -d), changes the
  // ctime: the file is hashed again.
  struct stat before {};
  REQUIRE(stat(path.c_str(), &before) == 0);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.write("FIRST", 5);
  }
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  const std::string second = file_content_sha256(path.string());
  CHECK(second != first);
  CHECK(second == sha256_hex("FIRST version"));

  // A sidecar written within 2 s of the file's last change is not trusted (git's racily-clean rule):
  // a forged sidecar claiming another hash for the current state is ignored.
  struct stat now {};
  REQUIRE(stat(path.c_str(), &now) == 0);
  const auto ns = [](const struct timespec& t) { return t.tv_sec * 1000000000LL + t.tv_nsec; };
  test::write_text(content_hash_sidecar(path.string()),
                   "dq-sha256/1 " + std::string(64, 'a') + " " + std::to_string(now.st_size) + " " +
                       std::to_string(now.st_ino) + " " + std::to_string(ns(now.st_mtim)) + " " +
                       std::to_string(ns(now.st_ctim)) + " " + std::to_string(ns(now.st_ctim) + 1000) + "\n");
  CHECK(file_content_sha256(path.string()) == second);
  // ... while one taken well after the last change is (that is what saves rehashing 150 MB).
  test::write_text(content_hash_sidecar(path.string()),
                   "dq-sha256/1 " + std::string(64, 'b') + " " + std::to_string(now.st_size) + " " +
                       std::to_string(now.st_ino) + " " + std::to_string(ns(now.st_mtim)) + " " +
                       std::to_string(ns(now.st_ctim)) + " " + std::to_string(ns(now.st_ctim) + 3000000000LL) + "\n");
  CHECK(file_content_sha256(path.string()) == std::string(64, 'b'));
  CHECK_THROWS_AS(file_content_sha256((dir / "missing").string()), Error);
}

TEST_CASE("npy_sha256 is the sha256 of the file write_npy writes", "[artefacts]") {
  const auto dir = test::scratch_dir("npy_sha");
  std::vector<float> z(3 * 5);
  std::iota(z.begin(), z.end(), 0.5f);
  write_npy((dir / "z.npy").string(), z.data(), {3, 5});
  CHECK(npy_sha256(z.data(), {3, 5}) == sha256_file_hex((dir / "z.npy").string()));
  CHECK(npy_sha256(z.data(), {5, 3}) != npy_sha256(z.data(), {3, 5}));
}

TEST_CASE("a dataset's content hash depends on its content only, and its cache file carries it", "[artefacts]") {
  Dataset d;
  d.kind = "test";
  d.class_names = {"a", "b"};
  d.train.n = 2;
  d.train.channels = 1;
  d.train.height = d.train.width = 2;
  d.train.pixels = {1, 2, 3, 4, 5, 6, 7, 8};
  d.train.labels = {0, 1};
  d.fingerprint = "one copy";
  Dataset moved = d;
  moved.fingerprint = "another copy of the same files";
  CHECK(dataset_content_sha256(d) == dataset_content_sha256(moved));
  Dataset changed = d;
  changed.train.pixels[7] = 9;
  CHECK(dataset_content_sha256(changed) != dataset_content_sha256(d));
  Dataset relabelled = d;
  relabelled.train.labels = {1, 0};
  CHECK(dataset_content_sha256(relabelled) != dataset_content_sha256(d));

  const auto dir = test::scratch_dir("dataset_content");
  write_dataset_cache(d, (dir / "d.dqds").string());
  std::string why;
  const auto back = read_dataset_cache((dir / "d.dqds").string(), d.fingerprint, &why);
  REQUIRE(back);
  CHECK(back->content_sha256 == dataset_content_sha256(d));
  CHECK(dataset_identity(*back) == dataset_identity(d));
}

TEST_CASE("the artefact log folds per-class reports of one kind into one record, in order", "[artefacts]") {
  ArtefactLog log;
  log.add({"dataset", "kd", "sd", 10, true});
  log.add({"knn_graph", "k0", "s0", 5, true});
  log.add({"knn_graph", "k1", "s1", 7, false});
  const auto r = log.records();
  REQUIRE(r.size() == 2);
  CHECK(r[0].kind == "dataset");
  CHECK(r[0].sha256 == "sd");
  CHECK(r[0].parts == 1);
  CHECK(r[1].kind == "knn_graph");
  CHECK(r[1].sha256 == sha256_hex("s0\ns1\n"));
  CHECK(r[1].key == sha256_hex("k0\nk1\n"));
  CHECK(r[1].bytes == 12);
  CHECK_FALSE(r[1].from_cache);  // one class was built
  CHECK(r[1].parts == 2);
  CHECK(r[1].role == "input");
  CHECK(upstream_hashes(r) == UpstreamHashes{{"dataset", "sd"}});
}

TEST_CASE("KNN graphs and bins key on the embeddings' content hash and their code identity", "[artefacts]") {
  const auto dir = test::scratch_dir("artefact_keys");
  const test::Points p = test::clustered_points(120, 8, 3, 0.0, 5);
  std::vector<int64_t> ids(120);
  std::iota(ids.begin(), ids.end(), 0);
  const ClassView cls{0, ids, p.z.data(), p.d};
  std::vector<ArtefactUse> uses;
  CellResources resources;
  resources.cache_dir = dir.string();
  resources.embedding_key = sha256_hex("embeddings bytes A");
  resources.artefact = [&](const ArtefactUse& u) { uses.push_back(u); };
  MemoryBudget memory(1ull << 30);
  StageTimer timer;
  SelectContext ctx{0.1, 1, memory, timer, resources};
  const BinParams bins{5, GraphCutKernel::NegSqEuclid, GreedyMode::Memo};

  CHECK_FALSE(build_knn_graph(cls, {}, memory, resources).from_cache);
  CHECK_FALSE(graphcut_bins_for_class(cls, bins, ctx).from_cache);
  CHECK(build_knn_graph(cls, {}, memory, resources).from_cache);
  CHECK(graphcut_bins_for_class(cls, bins, ctx).from_cache);
  REQUIRE(uses.size() == 4);  // every use is reported, built or read
  CHECK(uses[0].kind == "knn_graph");
  CHECK(uses[1].kind == "bins");
  CHECK(uses[2].sha256 == uses[0].sha256);  // the cached graph is the built one
  CHECK(uses[2].key == uses[0].key);
  CHECK(uses[3].sha256 == uses[1].sha256);
  CHECK(uses[2].from_cache);
  {
    // An edit of methods/knn/ (its identity salted) is a miss for the graph only.
    Salt salt("knn_graph=edited");
    CHECK_FALSE(build_knn_graph(cls, {}, memory, resources).from_cache);
    CHECK(graphcut_bins_for_class(cls, bins, ctx).from_cache);
  }
  {
    Salt salt("bins=edited");
    CHECK(build_knn_graph(cls, {}, memory, resources).from_cache);
    CHECK_FALSE(graphcut_bins_for_class(cls, bins, ctx).from_cache);
  }
  // Other embeddings bytes (the same file rewritten) are other keys for both.
  resources.embedding_key = sha256_hex("embeddings bytes B");
  ctx.resources.embedding_key = resources.embedding_key;
  CHECK_FALSE(build_knn_graph(cls, {}, memory, resources).from_cache);
  CHECK_FALSE(graphcut_bins_for_class(cls, bins, ctx).from_cache);
}

namespace {
Experiment four_cells(const std::filesystem::path& dir) {
  test::write_text(dir / "e.yaml", "name: art\ndatasets: {fm: {kind: fashion_mnist, path: /x}}\ntrain: none\n"
                                   "extractor: {kind: proxy}\n"
                                   "grid: {method: [random, \"bgfdq(k=5)\"], ratio: [0.1], seed: [0, 1]}\n");
  return load_experiment((dir / "e.yaml").string());
}

// Records a finished cell as run_cell would: upstream artefacts, a selection, provenance.
void record_done(Store& store, const CellConfig& cell, const std::string& embeddings, bool dirty = false,
                 const std::string& selection_code = "sel-1") {
  store.start_cell(cell.id());
  store.record_selection(cell.id(), {1, 2, 3}, {1.f, 1.f, 0.5f});
  std::vector<CellArtefact> a = {{"dataset", "input", "ds-sha", "ds-key", 10, true, 1},
                                 {"extractor_network", "input", "net-sha", "net-key", 10, true, 1},
                                 {"embeddings", "input", embeddings, "emb-key-" + embeddings, 10, true, 1}};
  store.record_cell_artefacts(cell.id(), a);
  Provenance p;
  p.git_commit = "0123456789abcdef";
  p.git_dirty = dirty;
  p.code_identities = "{\"selection\":\"" + selection_code + "\",\"dataset\":\"d-1\"}";
  store.finish_cell(cell.id(), CellStatus::Done, "", p);
}
}  // namespace

TEST_CASE("the store records a cell's artefacts and reads them back; the selection is one of them", "[artefacts][store]") {
  const auto dir = test::scratch_dir("store_artefacts");
  const Experiment ex = four_cells(dir);
  Store store((dir / "r.db").string());
  store.ensure_cells(ex.cells);
  record_done(store, ex.cells[0], "e1");
  const auto a = store.cell_artefacts(ex.cells[0].id());
  REQUIRE(a.size() == 4);
  std::map<std::string, CellArtefact> by;
  for (const auto& x : a) by[x.kind] = x;
  CHECK(by.at("embeddings").sha256 == "e1");
  CHECK(by.at("embeddings").role == "input");
  CHECK(by.at("selection").role == "output");
  CHECK(by.at("selection").sha256 == selection_sha256({1, 2, 3}, {1.f, 1.f, 0.5f}));
  CHECK(by.at("selection").sha256 == store.selection(ex.cells[0].id())->sha256);
  CHECK(store.selection(ex.cells[0].id())->keep == std::vector<float>{1.f, 1.f, 0.5f});
  CHECK(parse_code_identities(store.provenance(ex.cells[0].id())->code_identities).at("selection") == "sel-1");
  // A re-run clears them with the rest of the attempt.
  store.start_cell(ex.cells[0].id());
  CHECK(store.cell_artefacts(ex.cells[0].id()).empty());
}

TEST_CASE("a database from before artefact records opens read-only and read-write, and merges", "[artefacts][store]") {
  const auto dir = test::scratch_dir("store_legacy");
  const std::string db = (dir / "old.db").string();
  {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
    const char* old_schema = R"SQL(
CREATE TABLE experiments(name TEXT PRIMARY KEY, file TEXT, yaml TEXT, created TEXT, updated TEXT);
CREATE TABLE cells(cell_id TEXT PRIMARY KEY, experiment TEXT NOT NULL, dataset TEXT NOT NULL, method TEXT NOT NULL,
  method_name TEXT NOT NULL, ratio REAL NOT NULL, seed INTEGER NOT NULL, config TEXT NOT NULL, status TEXT NOT NULL,
  started TEXT, finished TEXT, heartbeat TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE stages(cell_id TEXT NOT NULL, stage TEXT NOT NULL, wall_s REAL, cpu_s REAL, peak_rss_bytes INTEGER,
  PRIMARY KEY(cell_id, stage));
CREATE TABLE metrics(cell_id TEXT NOT NULL, name TEXT NOT NULL, value REAL, PRIMARY KEY(cell_id, name));
CREATE TABLE selections(cell_id TEXT PRIMARY KEY, count INTEGER, sha256 TEXT, ids BLOB, keep BLOB);
CREATE TABLE artefacts(key TEXT PRIMARY KEY, kind TEXT, path TEXT, bytes INTEGER, created TEXT);
CREATE TABLE provenance(cell_id TEXT PRIMARY KEY, git_commit TEXT, git_dirty INTEGER, host TEXT, cpu_model TEXT,
  cores INTEGER, threads INTEGER, torch_version TEXT, faiss_version TEXT, sqlite_version TEXT, build_type TEXT,
  omp_wait_policy TEXT, command_line TEXT, recorded TEXT);
INSERT INTO cells VALUES('c1','old','fm','random','random',0.1,0,'{}','DONE',NULL,NULL,NULL,NULL,1);
INSERT INTO provenance(cell_id, git_commit, git_dirty) VALUES('c1','abc',1);
)SQL";
    REQUIRE(sqlite3_exec(h, old_schema, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(h);
  }
  {
    Store ro(db, OpenMode::ReadOnly);
    CHECK(ro.cell_artefacts("c1").empty());
    const auto p = ro.provenance("c1");
    REQUIRE(p);
    CHECK(p->git_dirty);
    CHECK(p->code_identities.empty());
    CHECK(p->load1_start == -1);
    std::ostringstream out;
    const VerifySummary s = verify_database(db, {}, out);
    CHECK(s.legacy);
    CHECK(s.failures >= 1);
    CHECK(out.str().find("legacy: pairing unverified") != std::string::npos);
    CHECK(render_results_table(ro, "", TableFormat::Terminal).find("pairing unverified") != std::string::npos);
  }
  // A shard from an older dqbench merges into a current database (with what it has).
  const std::string merged = (dir / "merged.db").string();
  std::ostringstream log;
  merge_databases(merged, {db}, log);
  Store store(merged);
  CHECK(store.find_cell("c1"));
  CHECK(store.provenance("c1")->git_commit == "abc");
  // And the old file itself gained the new columns and table when it was opened read-write.
  Store upgraded(db);
  CHECK(upgraded.provenance("c1")->code_identity.empty());
  CHECK(upgraded.cell_artefacts("c1").empty());
}

TEST_CASE("merge carries the cells' artefact records", "[artefacts][store]") {
  const auto dir = test::scratch_dir("merge_artefacts");
  const Experiment ex = four_cells(dir);
  const std::string shard = (dir / "shard.db").string();
  {
    Store s(shard);
    s.record_experiment(ex);
    s.ensure_cells(ex.cells);
    record_done(s, ex.cells[1], "e7");
  }
  std::ostringstream log;
  merge_databases((dir / "all.db").string(), {shard}, log);
  Store all((dir / "all.db").string());
  const auto a = all.cell_artefacts(ex.cells[1].id());
  REQUIRE(a.size() == 4);
  CHECK(upstream_hashes(a).at("embeddings") == "e7");
}

TEST_CASE("verify: pairing, one code per producer, dirty trees and tampered selections fail", "[artefacts][verify]") {
  const auto dir = test::scratch_dir("verify_checks");
  const Experiment ex = four_cells(dir);
  const auto run = [&](const std::string& name, const std::function<void(Store&)>& fill) {
    const std::string db = (dir / (name + ".db")).string();
    {
      Store store(db);
      store.record_experiment(ex);
      store.ensure_cells(ex.cells);
      fill(store);
    }
    std::ostringstream out;
    const VerifySummary s = verify_database(db, {}, out);
    return std::pair{s, out.str()};
  };
  {
    const auto [s, out] = run("clean", [&](Store& st) {
      for (const auto& c : ex.cells) record_done(st, c, "e1");
    });
    INFO(out);
    CHECK(s.failures == 0);
    CHECK(out.find("pairing: the 4 DONE cells of dataset fm share dataset ds-sha, extractor_network net-sha, "
                   "embeddings e1") != std::string::npos);
    CHECK(out.find("verified:") != std::string::npos);
  }
  {
    const auto [s, out] = run("mixed", [&](Store& st) {
      for (size_t i = 0; i < ex.cells.size(); ++i) record_done(st, ex.cells[i], i == 3 ? "e2" : "e1", false, i == 3 ? "sel-2" : "sel-1");
    });
    INFO(out);
    CHECK(s.failures == 2);
    CHECK(out.find("FAIL] pairing: dataset fm: the cells used 2 different embeddings") != std::string::npos);
    CHECK(out.find("embeddings e2: 1 cell:") != std::string::npos);
    CHECK(out.find("FAIL] code: the cells ran 2 different versions of producer 'selection'") != std::string::npos);
  }
  {
    const auto [s, out] = run("dirty", [&](Store& st) {
      for (size_t i = 0; i < ex.cells.size(); ++i) record_done(st, ex.cells[i], "e1", i == 0);
    });
    INFO(out);
    CHECK(s.failures == 1);
    CHECK(out.find("FAIL] dirty tree: 1 of 4 DONE cells ran from a tree with uncommitted changes on commit(s) 01234567")
          != std::string::npos);
  }
  {
    const auto [s, out] = run("tampered", [&](Store& st) {
      for (const auto& c : ex.cells) record_done(st, c, "e1");
      st.exec("UPDATE selections SET sha256='" + std::string(64, '0') + "' WHERE cell_id='" + ex.cells[2].id() + "'");
    });
    INFO(out);
    CHECK(s.failures == 1);
    CHECK(out.find("FAIL] selection: ") != std::string::npos);
  }
}

namespace {
CellResult result(const std::string& method, int64_t seed, double top1, const std::string& embeddings) {
  CellResult c;
  c.cell_id = method + std::to_string(seed) + embeddings;
  c.experiment = "x";
  c.dataset = "cifar10";
  c.method = c.method_name = method;
  c.ratio = 0.2;
  c.seed = seed;
  c.status = "DONE";
  c.metrics["top1"] = top1;
  if (!embeddings.empty()) c.artefacts = {{"dataset", "d"}, {"extractor_network", "n"}, {"embeddings", embeddings}};
  return c;
}
}  // namespace

TEST_CASE("tables never average or pair cells of different upstream artefacts", "[artefacts][report]") {
  const std::vector<CellResult> a = {result("a", 0, 0.50, "e1aaaaaaaa"), result("a", 1, 0.60, "e1aaaaaaaa"),
                                     result("a", 2, 0.90, "e2bbbbbbbb")};
  const std::vector<CellResult> b = {result("b", 0, 0.40, "e1aaaaaaaa"), result("b", 1, 0.50, "e1aaaaaaaa"),
                                     result("b", 2, 0.30, "e1aaaaaaaa")};
  CellGroup ga, gb;
  for (const auto& c : a) ga.cells.push_back(&c);
  for (const auto& c : b) gb.cells.push_back(&c);
  // Seeds 0, 1 (embeddings e1) and seed 2 (e2) are shown apart, never as one mean.
  CHECK(summary_cell(ga, metric_quantity("top1"), 100, 2) ==
        "mixed upstream: 55.00 ± 7.07 (n=2; embeddings e1aaaaaa) / 90.00 (n=1; embeddings e2bbbbbb)");
  CHECK(summary_cell(gb, metric_quantity("top1"), 100, 2) == "40.00 ± 10.00 (n=3)");
  // Seed 2 pairs a with b across embeddings: left out, and said so.
  const ReportTable t = paired_table("p", {{"col", {{"b", gb}, {"a", ga}}}}, metric_quantity("top1"), 100, 2, "pp");
  REQUIRE(t.rows.size() == 1);
  CHECK(t.rows[0][3] == "2");  // seeds 0 and 1 only
  CHECK(t.rows[0][4] == "+10.00");
  REQUIRE(t.notes.size() == 1);
  CHECK(t.notes[0] == "Left out of the pairs: col, seed 2: a vs b: embeddings e2bbbbbb vs e1aaaaaa (different upstream).");
  std::vector<const CellResult*> all;
  for (const auto& c : a) all.push_back(&c);
  for (const auto& c : b) all.push_back(&c);
  const auto notes = integrity_notes(all);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("Mixed upstream: the cells of experiment `x` on `cifar10`") != std::string::npos);
  CHECK(notes[0].find("embeddings e1aaaaaa (5 cells); embeddings e2bbbbbb (1 cell)") != std::string::npos);
}

TEST_CASE("tables never pair cells of another producer code, even where the bytes agree", "[artefacts][report]") {
  CellResult old_trainer = result("a", 0, 0.5, "e1"), new_trainer = result("b", 0, 0.6, "e1");
  CellResult other_method = result("c", 0, 0.7, "e1");
  old_trainer.code = {{"extractor_network", "1111111111"}, {"selection", "s"}};
  new_trainer.code = {{"extractor_network", "2222222222"}, {"selection", "s"}, {"knn_graph", "k"}};
  other_method.code = {{"extractor_network", "1111111111"}, {"selection", "s"}, {"bins", "b"}};
  CHECK_FALSE(same_upstream(old_trainer, new_trainer));
  CHECK(same_upstream(old_trainer, other_method));  // producers only one of them ran do not matter
  CellGroup a{{&old_trainer}}, b{{&new_trainer}};
  const ReportTable t = paired_table("p", {{"col", {{"a", a}, {"b", b}}}}, metric_quantity("top1"), 100, 2, "pp");
  REQUIRE(t.notes.size() == 1);
  CHECK(t.notes[0] == "Left out of the pairs: col, seed 0: b vs a: extractor_network code 22222222 vs 11111111 "
                      "(different upstream).");
  const auto notes = integrity_notes({&old_trainer, &new_trainer, &other_method});
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("extractor_network code 11111111 (2 cells); extractor_network code 22222222 (1 cell)") !=
        std::string::npos);
}

TEST_CASE("tables footnote unrecorded (legacy) cells and dirty trees", "[artefacts][report]") {
  CellResult legacy = result("a", 0, 0.5, "");
  CellResult dirty = result("a", 1, 0.5, "e1");
  dirty.git_dirty = true;
  dirty.git_commit = "feedfacecafe";
  CHECK(legacy.unrecorded());
  CHECK_FALSE(dirty.unrecorded());
  const auto notes = integrity_notes({&legacy, &dirty});
  REQUIRE(notes.size() == 2);
  CHECK(notes[0].find("Pairing unverified: 1 of these 2 DONE cells") != std::string::npos);
  CHECK(notes[1].find("1 of these 2 DONE cells ran from a source tree with uncommitted changes (commit feedface") !=
        std::string::npos);
  // Unrecorded cells are never averaged with recorded ones either.
  CellGroup g{{&legacy, &dirty}};
  CHECK(summary_cell(g, metric_quantity("top1"), 100, 1).rfind("mixed upstream: ", 0) == 0);
}
