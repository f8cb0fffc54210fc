#include "harness/sql.h"

#include <fmt/format.h>

#include "core/error.h"

namespace dq {

Statement::Statement(sqlite3* db, const std::string& sql, const std::string& db_path) : db_(db), path_(db_path) {
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK)
    throw Error(fmt::format("{}: SQL error: {} in: {}", path_, sqlite3_errmsg(db_), sql));
}
Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int i, const std::string& v) {
  sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}
Statement& Statement::bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Statement& Statement::bind_blob(int i, const void* data, int64_t bytes) {
  sqlite3_bind_blob64(stmt_, i, data, static_cast<sqlite3_uint64>(bytes), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw Error(fmt::format("{}: database error: {}", path_, sqlite3_errmsg(db_)));
}

std::string Statement::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? reinterpret_cast<const char*>(p) : "";
}
std::string Statement::blob(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
}
double Statement::real(int col) const { return sqlite3_column_double(stmt_, col); }
int64_t Statement::integer(int col) const { return sqlite3_column_int64(stmt_, col); }
bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

Transaction::Transaction(sqlite3* db, const std::string& db_path) : db_(db), path_(db_path) {
  char* err = nullptr;
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw Error(fmt::format("{}: cannot begin transaction: {}", path_, msg));
  }
}
Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}
void Transaction::commit() {
  char* err = nullptr;
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw Error(fmt::format("{}: cannot commit: {}", path_, msg));
  }
  done_ = true;
}

void guard_untrusted_database(sqlite3* db, const std::string& path) {
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_exec(db, "PRAGMA cell_size_check=ON", nullptr, nullptr, nullptr);
  Statement objects(db,
                    "SELECT type, name FROM main.sqlite_master WHERE type IN ('view', 'trigger') OR "
                    "(type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%') ORDER BY type, name LIMIT 1",
                    path);
  if (objects.step())
    throw Error(fmt::format("{}: not a dqbench results database: it holds the {} '{}', and a results database "
                            "holds tables only (a view or trigger could run any query when it is read)",
                            path, objects.text(0) == "table" ? "virtual table" : objects.text(0), objects.text(1)));
  Statement generated(db,
                      "SELECT m.name, c.name FROM main.sqlite_master m, pragma_table_xinfo(m.name, 'main') c "
                      "WHERE m.type = 'table' AND c.hidden <> 0 LIMIT 1",
                      path);
  if (generated.step())
    throw Error(fmt::format("{}: not a dqbench results database: column '{}' of table '{}' is generated (computed "
                            "by an expression stored in the file)",
                            path, generated.text(1), generated.text(0)));
}

}  // namespace dq
