#include "harness/store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/hashing.h"
#include "harness/experiment.h"
#include "harness/sql.h"

namespace dq {

namespace {
const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS experiments(
  name TEXT PRIMARY KEY, file TEXT, yaml TEXT, created TEXT, updated TEXT);
CREATE TABLE IF NOT EXISTS cells(
  cell_id TEXT PRIMARY KEY, experiment TEXT NOT NULL, dataset TEXT NOT NULL, method TEXT NOT NULL,
  method_name TEXT NOT NULL, ratio REAL NOT NULL, seed INTEGER NOT NULL, config TEXT NOT NULL,
  status TEXT NOT NULL, started TEXT, finished TEXT, heartbeat TEXT, error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS stages(
  cell_id TEXT NOT NULL, stage TEXT NOT NULL, wall_s REAL, cpu_s REAL, peak_rss_bytes INTEGER,
  PRIMARY KEY(cell_id, stage));
CREATE TABLE IF NOT EXISTS metrics(
  cell_id TEXT NOT NULL, name TEXT NOT NULL, value REAL, PRIMARY KEY(cell_id, name));
CREATE TABLE IF NOT EXISTS selections(
  cell_id TEXT PRIMARY KEY, count INTEGER, sha256 TEXT, ids BLOB, keep BLOB);
CREATE TABLE IF NOT EXISTS artefacts(
  key TEXT PRIMARY KEY, kind TEXT, path TEXT, bytes INTEGER, created TEXT);
CREATE TABLE IF NOT EXISTS provenance(
  cell_id TEXT PRIMARY KEY, git_commit TEXT, git_dirty INTEGER, host TEXT, cpu_model TEXT, cores INTEGER,
  threads INTEGER, torch_version TEXT, faiss_version TEXT, sqlite_version TEXT, build_type TEXT,
  omp_wait_policy TEXT, command_line TEXT, recorded TEXT);
)SQL";

const char* kNow = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

// Policy: a metric is a finite number or it is not recorded at all. A NaN or infinity is a failed
// computation (a diverged training loss, a distance to nothing), never a result, so the whole write
// is refused and the cell ends FAILED with this message (SQLite would store NaN as NULL, and
// infinity would average into tables unnoticed).
void require_finite(const std::string& db, const std::string& cell_id, const std::map<std::string, double>& metrics) {
  for (const auto& [name, value] : metrics)
    if (!std::isfinite(value))
      throw Error(fmt::format("{}: cell {}: metric '{}' is {}; the store keeps only finite metrics", db,
                              cell_id.substr(0, 12), name, std::isnan(value) ? "NaN" : value > 0 ? "+inf" : "-inf"));
}
}  // namespace

const char* status_name(CellStatus s) {
  switch (s) {
    case CellStatus::Pending: return "PENDING";
    case CellStatus::Running: return "RUNNING";
    case CellStatus::Done: return "DONE";
    case CellStatus::Oom: return "OOM";
    case CellStatus::Timeout: return "TIMEOUT";
    case CellStatus::Failed: return "FAILED";
  }
  return "?";
}

CellStatus status_from_name(const std::string& n) {
  for (auto s : {CellStatus::Pending, CellStatus::Running, CellStatus::Done, CellStatus::Oom, CellStatus::Timeout,
                 CellStatus::Failed})
    if (n == status_name(s)) return s;
  throw Error(fmt::format("unknown cell status '{}' in the database", n));
}

Store::Store(const std::string& path) : path_(path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw Error(fmt::format("{}: cannot open database: {}", path, msg));
  }
  sqlite3_busy_timeout(db_, 30000);
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec(kSchema);
}

Store::~Store() { sqlite3_close(db_); }

void Store::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw Error(fmt::format("{}: database error: {}", path_, msg));
  }
}

void Store::record_experiment(const Experiment& ex) {
  Statement(db_,
            fmt::format("INSERT INTO experiments(name, file, yaml, created, updated) VALUES(?,?,?,{0},{0}) "
                        "ON CONFLICT(name) DO UPDATE SET file=excluded.file, yaml=excluded.yaml, updated={0}",
                        kNow),
            path_)
      .bind(1, ex.name)
      .bind(2, ex.file)
      .bind(3, ex.yaml_text)
      .run();
}

CellRow Store::ensure_cell(const CellConfig& cell) {
  const std::string id = cell.id();
  Statement(db_,
            "INSERT OR IGNORE INTO cells(cell_id, experiment, dataset, method, method_name, ratio, seed, config, "
            "status) VALUES(?,?,?,?,?,?,?,?,'PENDING')",
            path_)
      .bind(1, id)
      .bind(2, cell.experiment)
      .bind(3, cell.dataset.name)
      .bind(4, cell.method.canonical())
      .bind(5, cell.method.name)
      .bind(6, cell.ratio)
      .bind(7, cell.seed)
      .bind(8, cell.canonical_json())
      .run();
  auto row = find_cell(id);
  DQ_ASSERT(row.has_value(), "cell vanished after insert");
  return *row;
}

namespace {
const char* kCellColumns =
    "cell_id, experiment, dataset, method, ratio, seed, status, coalesce(error,''), "
    "CASE WHEN heartbeat IS NULL THEN -1 ELSE CAST((julianday('now') - julianday(heartbeat)) * 86400 AS INTEGER) END";
CellRow read_cell(const Statement& s) {
  CellRow r;
  r.cell_id = s.text(0);
  r.experiment = s.text(1);
  r.dataset = s.text(2);
  r.method = s.text(3);
  r.ratio = s.real(4);
  r.seed = s.integer(5);
  r.status = status_from_name(s.text(6));
  r.error = s.text(7);
  r.heartbeat_age_s = s.integer(8);
  return r;
}
}  // namespace

std::optional<CellRow> Store::find_cell(const std::string& cell_id) {
  Statement s(db_, fmt::format("SELECT {} FROM cells WHERE cell_id=?", kCellColumns), path_);
  s.bind(1, cell_id);
  if (!s.step()) return std::nullopt;
  return read_cell(s);
}

std::vector<CellRow> Store::cells(const std::string& experiment) {
  Statement s(db_,
              fmt::format("SELECT {} FROM cells WHERE ?='' OR experiment=? ORDER BY dataset, method_name, method, "
                          "ratio, seed",
                          kCellColumns),
              path_);
  s.bind(1, experiment).bind(2, experiment);
  std::vector<CellRow> out;
  while (s.step()) out.push_back(read_cell(s));
  return out;
}

void Store::start_cell(const std::string& cell_id) {
  Transaction tx(db_, path_);
  for (const char* table : {"stages", "metrics", "selections", "provenance"})
    Statement(db_, fmt::format("DELETE FROM {} WHERE cell_id=?", table), path_).bind(1, cell_id).run();
  Statement(db_,
            fmt::format("UPDATE cells SET status='RUNNING', started={0}, heartbeat={0}, finished=NULL, error=NULL, "
                        "attempts=attempts+1 WHERE cell_id=?",
                        kNow),
            path_)
      .bind(1, cell_id)
      .run();
  tx.commit();
}

void Store::heartbeat(const std::string& cell_id) {
  Statement(db_, fmt::format("UPDATE cells SET heartbeat={} WHERE cell_id=?", kNow), path_).bind(1, cell_id).run();
}

void Store::record_stage(const std::string& cell_id, const StageRecord& stage,
                         const std::map<std::string, double>& metrics_in) {
  require_finite(path_, cell_id, metrics_in);
  Transaction tx(db_, path_);
  // A sub-stage that runs once per class ("select/bin_generation") accumulates into one row.
  Statement(db_,
            "INSERT INTO stages(cell_id, stage, wall_s, cpu_s, peak_rss_bytes) VALUES(?,?,?,?,?) "
            "ON CONFLICT(cell_id, stage) DO UPDATE SET wall_s = wall_s + excluded.wall_s, "
            "cpu_s = cpu_s + excluded.cpu_s, peak_rss_bytes = max(peak_rss_bytes, excluded.peak_rss_bytes)",
            path_)
      .bind(1, cell_id)
      .bind(2, stage.name)
      .bind(3, stage.wall_s)
      .bind(4, stage.cpu_s)
      .bind(5, stage.peak_rss_bytes)
      .run();
  for (const auto& [name, value] : metrics_in)
    Statement(db_, "INSERT OR REPLACE INTO metrics(cell_id, name, value) VALUES(?,?,?)", path_)
        .bind(1, cell_id)
        .bind(2, name)
        .bind(3, value)
        .run();
  Statement(db_, fmt::format("UPDATE cells SET heartbeat={} WHERE cell_id=?", kNow), path_).bind(1, cell_id).run();
  tx.commit();
}

void Store::record_metrics(const std::string& cell_id, const std::map<std::string, double>& m) {
  require_finite(path_, cell_id, m);
  Transaction tx(db_, path_);
  for (const auto& [name, value] : m)
    Statement(db_, "INSERT OR REPLACE INTO metrics(cell_id, name, value) VALUES(?,?,?)", path_)
        .bind(1, cell_id)
        .bind(2, name)
        .bind(3, value)
        .run();
  tx.commit();
}

void Store::record_selection(const std::string& cell_id, const std::vector<int64_t>& ids,
                             const std::vector<float>& keep) {
  std::string bytes(reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof(int64_t));
  bytes.append(reinterpret_cast<const char*>(keep.data()), keep.size() * sizeof(float));
  Statement(db_, "INSERT OR REPLACE INTO selections(cell_id, count, sha256, ids, keep) VALUES(?,?,?,?,?)", path_)
      .bind(1, cell_id)
      .bind(2, static_cast<int64_t>(ids.size()))
      .bind(3, sha256_hex(bytes))
      .bind_blob(4, ids.data(), static_cast<int64_t>(ids.size() * sizeof(int64_t)))
      .bind_blob(5, keep.data(), static_cast<int64_t>(keep.size() * sizeof(float)))
      .run();
}

void Store::record_artefact(const std::string& key, const std::string& kind, const std::string& path,
                            int64_t bytes) {
  Statement(db_,
            fmt::format("INSERT OR REPLACE INTO artefacts(key, kind, path, bytes, created) VALUES(?,?,?,?,{})", kNow),
            path_)
      .bind(1, key)
      .bind(2, kind)
      .bind(3, path)
      .bind(4, bytes)
      .run();
}

void Store::finish_cell(const std::string& cell_id, CellStatus status, const std::string& error,
                        const Provenance& p) {
  Transaction tx(db_, path_);
  Statement(db_,
            fmt::format("INSERT OR REPLACE INTO provenance(cell_id, git_commit, git_dirty, host, cpu_model, cores, "
                        "threads, torch_version, faiss_version, sqlite_version, build_type, omp_wait_policy, "
                        "command_line, recorded) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,{})",
                        kNow),
            path_)
      .bind(1, cell_id)
      .bind(2, p.git_commit)
      .bind(3, int64_t{p.git_dirty})
      .bind(4, p.host)
      .bind(5, p.cpu_model)
      .bind(6, p.cores)
      .bind(7, p.threads)
      .bind(8, p.torch_version)
      .bind(9, p.faiss_version)
      .bind(10, p.sqlite_version)
      .bind(11, p.build_type)
      .bind(12, p.omp_wait_policy)
      .bind(13, p.command_line)
      .run();
  Statement(db_, fmt::format("UPDATE cells SET status=?, error=?, finished={0}, heartbeat={0} WHERE cell_id=?", kNow),
            path_)
      .bind(1, std::string(status_name(status)))
      .bind(2, error)
      .bind(3, cell_id)
      .run();
  tx.commit();
}

void Store::set_status(const std::string& cell_id, CellStatus status, const std::string& error) {
  Statement(db_, fmt::format("UPDATE cells SET status=?, error=?, finished={} WHERE cell_id=?", kNow), path_)
      .bind(1, std::string(status_name(status)))
      .bind(2, error)
      .bind(3, cell_id)
      .run();
}

std::map<std::string, double> Store::metrics(const std::string& cell_id) {
  Statement s(db_, "SELECT name, value FROM metrics WHERE cell_id=?", path_);
  s.bind(1, cell_id);
  std::map<std::string, double> out;
  while (s.step()) out[s.text(0)] = s.real(1);
  return out;
}

std::vector<StageRecord> Store::stages(const std::string& cell_id) {
  Statement s(db_, "SELECT stage, wall_s, cpu_s, peak_rss_bytes FROM stages WHERE cell_id=? ORDER BY rowid", path_);
  s.bind(1, cell_id);
  std::vector<StageRecord> out;
  while (s.step()) out.push_back({s.text(0), s.real(1), s.real(2), s.integer(3)});
  return out;
}

}  // namespace dq
