#pragma once
// A small RAII wrapper over sqlite3 prepared statements: bind by position, step, read columns.
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dq {

// SQL for the current UTC time as text with milliseconds ("2026-11-29T15:11:26.123Z"), the format of
// every timestamp column of the store.
inline constexpr const char* kSqlNow = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::string& db_path);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, double value);
  Statement& bind(int index, int64_t value);
  Statement& bind_blob(int index, const void* data, int64_t bytes);
  Statement& bind_null(int index);
  bool step();  // true while a row is available; throws dq::Error on failure
  void run() { while (step()) {} }

  std::string text(int col) const;
  std::string blob(int col) const;  // the column's bytes, NULs included; empty for NULL
  double real(int col) const;
  int64_t integer(int col) const;
  bool is_null(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string path_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if destroyed without commit().
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& db_path);
  ~Transaction();
  void commit();

 private:
  sqlite3* db_;
  std::string path_;
  bool done_ = false;
};

// A results database may come from someone else (a colleague's shard, a file sent with a report), and
// reading one must end in results or a clear error, never a crash or a hang. This sets the connection
// against schema tricks (SQLite's defensive mode, an untrusted schema, checked cell sizes) and refuses,
// with a dq::Error naming the file, a database whose main schema holds anything but ordinary tables: a
// view or a trigger runs whatever query it was given when one of ours reads it (an endless recursive
// one, found by issue 23's hostile-database test), a generated column whatever expression, a virtual
// table whatever module. Called by every read-only open (Store, the report's reader).
void guard_untrusted_database(sqlite3* db, const std::string& path);

}  // namespace dq
