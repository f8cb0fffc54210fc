// The store's connection, schema and migrations, the experiment and cell rows, and who runs which
// cell (claims, ownership fencing, heartbeats, abandoned cells). What a running cell records, and
// reading it back, is in store_results.cpp.
#include "harness/store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "core/hashing.h"
#include "harness/experiment.h"
#include "harness/sql.h"

namespace dq {

namespace {
const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS experiments(
  name TEXT PRIMARY KEY, file TEXT, yaml TEXT, created TEXT, updated TEXT, definition TEXT);
CREATE TABLE IF NOT EXISTS cells(
  cell_id TEXT PRIMARY KEY, experiment TEXT NOT NULL, dataset TEXT NOT NULL, method TEXT NOT NULL,
  method_name TEXT NOT NULL, ratio REAL NOT NULL, seed INTEGER NOT NULL, config TEXT NOT NULL,
  status TEXT NOT NULL, started TEXT, finished TEXT, heartbeat TEXT, error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0, host TEXT, pid INTEGER, pid_start TEXT);
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
  omp_wait_policy TEXT, command_line TEXT, recorded TEXT, code_identity TEXT, code_identities TEXT,
  library_versions TEXT, load1_start REAL, load1_end REAL);
CREATE TABLE IF NOT EXISTS cell_artefacts(
  cell_id TEXT NOT NULL, kind TEXT NOT NULL, role TEXT NOT NULL, sha256 TEXT NOT NULL, key TEXT, bytes INTEGER,
  from_cache INTEGER, parts INTEGER, PRIMARY KEY(cell_id, kind));
)SQL";

// Tables added after the first release: a read-only connection to an older database sees them empty.
constexpr const char* kAddedTables = R"SQL(
CREATE TABLE IF NOT EXISTS {0}patch_masks(
  cell_id TEXT PRIMARY KEY, grid_rows INTEGER, grid_cols INTEGER, patch_px INTEGER, count INTEGER, masks BLOB);
CREATE TABLE IF NOT EXISTS {0}bins(
  cell_id TEXT PRIMARY KEY, classes INTEGER, data BLOB);
)SQL";

// Which experiments' matrices hold a cell. A cell's row names the experiment that ran it first (its
// id hashes the configuration only); another experiment that expands to the same cell reuses it and
// is recorded here, so its tables show the cell too (experiments/cpu/airbench94_table5.yaml's Random
// cells are Table 1's). Added after patch_masks and bins, so shadowed on its own.
constexpr const char* kMembershipTable = R"SQL(
CREATE TABLE IF NOT EXISTS {0}experiment_cells(
  experiment TEXT NOT NULL, cell_id TEXT NOT NULL, PRIMARY KEY(experiment, cell_id));
)SQL";

// Columns added after the first release: a database written by an older dqbench gains them on open
// (in this order, which is also their order in kSchema, so every database has one column order).
const std::vector<std::pair<std::string, std::string>> kAddedColumns = {
    {"experiments", "definition TEXT"}, {"cells", "host TEXT"},
    {"cells", "pid INTEGER"},           {"cells", "pid_start TEXT"},
    {"provenance", "code_identity TEXT"}, {"provenance", "code_identities TEXT"},
    {"provenance", "library_versions TEXT"}, {"provenance", "load1_start REAL"},
    {"provenance", "load1_end REAL"}};
const std::vector<std::string> kMigratedTables = {"experiments", "cells", "provenance"};

// The row is RUNNING and owned by the process bound at ?2 (host), ?3 (pid), ?4 (start).
const char* kOwned = "cell_id=?1 AND status='RUNNING' AND host=?2 AND pid=?3 AND pid_start=?4";


// Binds ?1..?4 of kOwned.
Statement& bind_owned(Statement& s, const std::string& cell_id, const ProcessIdentity& owner) {
  return s.bind(1, cell_id).bind(2, owner.host).bind(3, owner.pid).bind(4, owner.start);
}

}  // namespace

const char* status_name(CellStatus status) {
  switch (status) {
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

ResumeDecision decide_resume(const CellRow& row, const ClaimPolicy& policy) {
  switch (row.status) {
    case CellStatus::Pending: return {true, "pending"};
    case CellStatus::Done:
    case CellStatus::Oom:
      if (policy.force) return {true, "forced"};
      return {false, fmt::format("already {}", status_name(row.status))};
    case CellStatus::Failed:
    case CellStatus::Timeout:
      if (policy.force || policy.retry_failed) return {true, "retry"};
      return {false, fmt::format("{} (--retry-failed re-runs it)", status_name(row.status))};
    case CellStatus::Running: {
      switch (liveness(row.owner)) {
        case Liveness::Alive:
          return {false, fmt::format("RUNNING in live process {} on this host", row.owner.pid)};
        case Liveness::Dead:
          return {true, fmt::format("its process {} on this host is gone", row.owner.pid)};
        case Liveness::Unknown: break;
      }
      if (row.heartbeat_age_s < 0 || row.heartbeat_age_s > policy.stale_after_s)
        return {true, fmt::format("its heartbeat is stale ({}s old)", row.heartbeat_age_s)};
      return {false, fmt::format("RUNNING on {} (pid {}, heartbeat {}s ago)",
                                 row.owner.host.empty() ? "another host" : row.owner.host, row.owner.pid,
                                 row.heartbeat_age_s)};
    }
  }
  return {false, "?"};
}

const std::vector<const char*>& per_cell_tables() {
  static const std::vector<const char*> tables = {"stages", "metrics", "selections", "patch_masks", "bins", "provenance",
                                                        "cell_artefacts"};
  return tables;
}

std::string experiment_definition(const Experiment& ex) {
  std::string ids;
  for (const auto& c : ex.cells) ids += c.id() + "\n";
  return sha256_hex(ids);
}

Store::Store(const std::string& path, OpenMode mode) : path_(path), read_only_(mode == OpenMode::ReadOnly),
                                                        self_(ProcessIdentity::self()) {
  try {
    connect();
  } catch (...) {  // no destructor runs for a constructor that throws: close the connection here
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

void Store::connect() {
  const std::string& path = path_;
  if (read_only_) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw Error(fmt::format("{}: no such database", path));
    try {
      open(path, SQLITE_OPEN_READONLY);
      exec("SELECT count(*) FROM sqlite_master");  // WAL needs a writable -shm; fails on a read-only mount
    } catch (const Error&) {
      sqlite3_close(db_);
      db_ = nullptr;
      // Immutable: no locks, no -shm. Only for files nobody writes now (a read-only mount).
      open("file:" + path + "?immutable=1", SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
      exec("SELECT count(*) FROM sqlite_master");
    }
    guard_untrusted_database(db_, path_);  // read-only opens read other people's files (harness/sql.h)
    shadow_missing_columns();
    return;
  }
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  // Switching to WAL needs a moment alone with the file; a busy timeout does not cover every case of
  // two processes creating the same database at once, so retry.
  for (int attempt = 0;; ++attempt) {
    try {
      exec("PRAGMA journal_mode=WAL");
      break;
    } catch (const Error&) {
      if (attempt >= 100) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  exec("PRAGMA synchronous=NORMAL");
  Transaction tx(db_, path_);
  exec(kSchema);
  exec(fmt::format(fmt::runtime(kAddedTables), "main."));
  exec(fmt::format(fmt::runtime(kMembershipTable), "main."));
  migrate();
  tx.commit();
}

void Store::open(const std::string& uri, int flags) {
  if (sqlite3_open_v2(uri.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(fmt::format("{}: cannot open database: {}", path_, msg));
  }
  sqlite3_busy_timeout(db_, 60000);
}

// The columns of kAddedColumns that `table` lacks (a database written by an older dqbench).
std::vector<std::string> Store::missing_columns(const std::string& table) {
  std::vector<std::string> missing;
  for (const auto& [t, column] : kAddedColumns) {
    if (t != table) continue;
    const std::string name = column.substr(0, column.find(' '));
    Statement s(db_, fmt::format("SELECT count(*) FROM main.pragma_table_info('{}') WHERE name=?", table), path_);
    s.bind(1, name);
    s.step();
    if (s.integer(0) == 0) missing.push_back(column);
  }
  return missing;
}

void Store::migrate() {
  for (const std::string& table : kMigratedTables)
    for (const std::string& column : missing_columns(table))
      exec(fmt::format("ALTER TABLE {} ADD COLUMN {}", table, column));
}

// A read-only connection cannot add columns: a TEMP view of the same name (the temp schema is searched
// first) shows the missing ones as NULL, so `table`, `cells` and `status` read an older database as is.
// A table added since (patch_masks, bins, cell_artefacts) is shown as an empty TEMP table of the same name.
void Store::shadow_missing_columns() {
  if (!has_table("patch_masks")) exec(fmt::format(fmt::runtime(kAddedTables), "temp."));
  if (!has_table("experiment_cells")) exec(fmt::format(fmt::runtime(kMembershipTable), "temp."));
  for (const std::string& table : kMigratedTables) {
    if (!has_table(table)) continue;  // a database with no provenance yet
    std::string added;
    for (const std::string& column : missing_columns(table))
      added += fmt::format(", NULL AS {}", column.substr(0, column.find(' ')));
    if (!added.empty()) exec(fmt::format("CREATE TEMP VIEW {0} AS SELECT *{1} FROM main.{0}", table, added));
  }
  if (!has_table("cell_artefacts"))
    exec("CREATE TEMP TABLE cell_artefacts(cell_id TEXT NOT NULL, kind TEXT NOT NULL, role TEXT NOT NULL, sha256 TEXT "
         "NOT NULL, key TEXT, bytes INTEGER, from_cache INTEGER, parts INTEGER, PRIMARY KEY(cell_id, kind))");
}

bool Store::has_table(const std::string& table) {
  Statement s(db_, "SELECT count(*) FROM main.sqlite_master WHERE type='table' AND name=?", path_);
  s.bind(1, table);
  s.step();
  return s.integer(0) > 0;
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
  Transaction tx(db_, path_);
  Statement(db_,
            fmt::format("INSERT INTO experiments(name, file, yaml, created, updated, definition) "
                        "VALUES(?,?,?,{0},{0},?) ON CONFLICT(name) DO UPDATE SET file=excluded.file, "
                        "yaml=excluded.yaml, definition=excluded.definition, updated={0}",
                        kSqlNow),
            path_)
      .bind(1, ex.name)
      .bind(2, ex.file)
      .bind(3, ex.yaml_text)
      .bind(4, experiment_definition(ex))
      .run();
  tx.commit();
}

bool Store::experiment_recorded(const Experiment& ex) {
  Statement s(db_, "SELECT count(*) FROM experiments WHERE name=? AND file=? AND yaml=? AND definition IS NOT NULL",
              path_);
  s.bind(1, ex.name).bind(2, ex.file).bind(3, ex.yaml_text).step();
  return s.integer(0) == 1;
}

namespace {
void insert_cell(sqlite3* db, const std::string& path, const CellConfig& cell) {
  Statement(db,
            "INSERT OR IGNORE INTO cells(cell_id, experiment, dataset, method, method_name, ratio, seed, config, "
            "status) VALUES(?,?,?,?,?,?,?,?,'PENDING')",
            path)
      .bind(1, cell.id())
      .bind(2, cell.experiment)
      .bind(3, cell.dataset.name)
      .bind(4, cell.method.display())
      .bind(5, cell.method.name)
      .bind(6, cell.ratio)
      .bind(7, cell.seed)
      .bind(8, cell.canonical_json())
      .run();
  Statement(db, "INSERT OR IGNORE INTO experiment_cells(experiment, cell_id) VALUES(?,?)", path)
      .bind(1, cell.experiment)
      .bind(2, cell.id())
      .run();
}

const char* kCellColumns =
    "cell_id, experiment, dataset, method, ratio, seed, status, coalesce(error,''), "
    "CASE WHEN heartbeat IS NULL THEN -1 ELSE CAST((julianday('now') - julianday(heartbeat)) * 86400 AS INTEGER) END, "
    "attempts, coalesce(host,''), coalesce(pid,0), coalesce(pid_start,''), coalesce(started,''), "
    "coalesce(finished,''), "
    "CASE WHEN started IS NULL THEN -1 ELSE (julianday(coalesce(finished, 'now')) - julianday(started)) * 86400 END, "
    "method_name";
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
  r.attempts = s.integer(9);
  r.owner = {s.text(10), s.integer(11), s.text(12)};
  r.started = s.text(13);
  r.finished = s.text(14);
  r.run_s = s.real(15);
  r.method_name = s.text(16);
  return r;
}
}  // namespace

CellRow Store::ensure_cell(const CellConfig& cell) {
  {
    Transaction tx(db_, path_);
    insert_cell(db_, path_, cell);
    tx.commit();
  }
  auto row = find_cell(cell.id());
  DQ_ASSERT(row.has_value(), "cell vanished after insert");
  return *row;
}

void Store::ensure_cells(const std::vector<CellConfig>& cells) {
  Transaction tx(db_, path_);
  for (const auto& c : cells) insert_cell(db_, path_, c);
  tx.commit();
}

std::optional<CellRow> Store::find_cell(const std::string& cell_id) {
  Statement s(db_, fmt::format("SELECT {} FROM cells WHERE cell_id=?", kCellColumns), path_);
  s.bind(1, cell_id);
  if (!s.step()) return std::nullopt;
  return read_cell(s);
}

std::vector<CellRow> Store::cells(const std::string& experiment) {
  Statement s(db_,
              fmt::format("SELECT {} FROM cells WHERE ?1='' OR experiment=?1 OR cell_id IN "
                          "(SELECT cell_id FROM experiment_cells WHERE experiment=?1) ORDER BY dataset, method_name, "
                          "method, ratio, seed",
                          kCellColumns),
              path_);
  s.bind(1, experiment);
  std::vector<CellRow> out;
  while (s.step()) out.push_back(read_cell(s));
  return out;
}

std::vector<std::string> Store::other_experiments(const std::string& cell_id, const std::string& owner) {
  Statement s(db_, "SELECT experiment FROM experiment_cells WHERE cell_id=? AND experiment<>? ORDER BY experiment",
              path_);
  s.bind(1, cell_id).bind(2, owner);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::optional<std::string> Store::config(const std::string& cell_id) {
  Statement s(db_, "SELECT config FROM cells WHERE cell_id=?", path_);
  s.bind(1, cell_id);
  if (!s.step()) return std::nullopt;
  return s.text(0);
}

void Store::claim_row(const std::string& cell_id) {
  for (const char* table : per_cell_tables())
    Statement(db_, fmt::format("DELETE FROM {} WHERE cell_id=?", table), path_).bind(1, cell_id).run();
  Statement s(db_,
              fmt::format("UPDATE cells SET status='RUNNING', started={0}, heartbeat={0}, finished=NULL, error=NULL, "
                          "attempts=attempts+1, host=?2, pid=?3, pid_start=?4 WHERE cell_id=?1",
                          kSqlNow),
              path_);
  bind_owned(s, cell_id, self_).run();
}

ClaimResult Store::claim_cell(const CellConfig& cell, const ClaimPolicy& policy) {
  const std::string id = cell.id();
  Transaction tx(db_, path_);
  insert_cell(db_, path_, cell);
  ClaimResult r;
  r.row = *find_cell(id);
  const ResumeDecision d = decide_resume(r.row, policy);
  r.reason = d.reason;
  if (!d.run) return r;  // rolled back: nothing was inserted that matters
  claim_row(id);
  tx.commit();
  r.claimed = true;
  r.attempt = r.row.attempts + 1;
  return r;
}

int64_t Store::reset_cells(const std::vector<std::string>& cell_ids) {
  Transaction tx(db_, path_);
  int64_t n = 0;
  for (const auto& id : cell_ids) {
    Statement(db_, "UPDATE cells SET status='PENDING', error=NULL WHERE cell_id=? AND status<>'RUNNING'", path_)
        .bind(1, id)
        .run();
    n += sqlite3_changes(db_);
  }
  tx.commit();
  return n;
}

void Store::require_owned(const std::string& cell_id) {
  Statement s(db_, fmt::format("SELECT count(*) FROM cells WHERE {}", kOwned), path_);
  bind_owned(s, cell_id, self_).step();
  if (s.integer(0) == 1) return;
  const auto row = find_cell(cell_id);
  throw Error(fmt::format("{}: cell {} is no longer owned by this process (now {} {} pid {}); result discarded",
                          path_, cell_id.substr(0, 12), row ? status_name(row->status) : "missing",
                          row ? row->owner.host : "", row ? row->owner.pid : 0));
}

void Store::start_cell(const std::string& cell_id) {
  Transaction tx(db_, path_);
  Statement s(db_, fmt::format("SELECT count(*) FROM cells WHERE {}", kOwned), path_);
  bind_owned(s, cell_id, self_).step();
  if (s.integer(0) == 1) return;  // claimed by this process already
  claim_row(cell_id);
  tx.commit();
}

void Store::heartbeat(const std::string& cell_id) {
  Transaction tx(db_, path_);
  Statement s(db_, fmt::format("UPDATE cells SET heartbeat={} WHERE {}", kSqlNow, kOwned), path_);
  bind_owned(s, cell_id, self_).run();
  tx.commit();
}

bool Store::end_abandoned(const std::string& cell_id, const ProcessIdentity& owner, CellStatus status,
                          const std::string& error) {
  Transaction tx(db_, path_);
  Statement s(db_, fmt::format("UPDATE cells SET status=?5, error=?6, finished={} WHERE {}", kSqlNow, kOwned), path_);
  bind_owned(s, cell_id, owner).bind(5, std::string(status_name(status))).bind(6, error).run();
  const bool changed = sqlite3_changes(db_) == 1;
  tx.commit();
  return changed;
}

void Store::set_status(const std::string& cell_id, CellStatus status, const std::string& error) {
  Transaction tx(db_, path_);
  Statement(db_, fmt::format("UPDATE cells SET status=?, error=?, finished={} WHERE cell_id=?", kSqlNow), path_)
      .bind(1, std::string(status_name(status)))
      .bind(2, error)
      .bind(3, cell_id)
      .run();
  tx.commit();
}

}  // namespace dq
