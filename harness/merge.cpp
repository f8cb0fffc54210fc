#include "harness/merge.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <filesystem>

#include "core/error.h"
#include "harness/sql.h"
#include "harness/store.h"

namespace dq {

namespace {

const char* kCellCols =
    "cell_id, experiment, dataset, method, method_name, ratio, seed, config, status, started, finished, heartbeat, "
    "error, attempts, host, pid, pid_start";
const char* kFinished = "('DONE','OOM','FAILED','TIMEOUT')";

int64_t scalar(Store& store, const std::string& sql) {
  Statement s(store.handle(), sql, store.path());
  s.step();
  return s.integer(0);
}

// The columns of `table` in both databases, comma-separated ("" when the shard lacks the table): a
// shard from an older dqbench that could not be upgraded (read-only) is merged with what it has.
std::string common_columns(Store& out, const std::string& table) {
  Statement s(out.handle(),
              fmt::format("SELECT m.name FROM main.pragma_table_info('{0}') m JOIN shard.pragma_table_info('{0}') s "
                          "USING(name) ORDER BY m.cid",
                          table),
              out.path());
  std::string columns;
  while (s.step()) columns += (columns.empty() ? "" : ", ") + s.text(0);
  return columns;
}

void merge_one(Store& out, const std::string& shard, MergeSummary& summary, std::ostream& log) {
  {
    Store in(shard, OpenMode::ReadOnly);  // a missing file or another format fails here, before any write
    (void)in;
  }
  try {
    Store upgrade(shard);  // a shard written by an older dqbench gains the new columns
  } catch (const Error&) {
    // Read-only: it is merged as it is (a current shard needs nothing).
  }
  Statement(out.handle(), "ATTACH DATABASE ? AS shard", out.path()).bind(1, shard).run();
  try {
    Transaction tx(out.handle(), out.path());
    // Same experiment name, another matrix: refuse.
    Statement conflict(out.handle(),
                       "SELECT s.name, s.definition, m.definition FROM shard.experiments s JOIN main.experiments m "
                       "USING(name) WHERE s.definition IS NOT NULL AND m.definition IS NOT NULL AND "
                       "s.definition <> m.definition",
                       out.path());
    if (conflict.step())
      throw Error(fmt::format("{}: refusing to merge: experiment '{}' there is another matrix (definition {}) than in "
                              "{} (definition {}); merge shards of one experiment definition only",
                              shard, conflict.text(0), conflict.text(1).substr(0, 12), out.path(),
                              conflict.text(2).substr(0, 12)));
    out.exec(
        "INSERT INTO main.experiments(name, file, yaml, created, updated, definition) "
        "SELECT name, file, yaml, created, updated, definition FROM shard.experiments WHERE true "
        "ON CONFLICT(name) DO UPDATE SET definition=coalesce(definition, excluded.definition)");
    out.exec("DROP TABLE IF EXISTS temp.merge_pick");
    out.exec(fmt::format(
        "CREATE TEMP TABLE merge_pick AS SELECT s.cell_id AS cell_id, m.cell_id IS NOT NULL AS existed "
        "FROM shard.cells s LEFT JOIN main.cells m ON m.cell_id = s.cell_id "
        "WHERE m.cell_id IS NULL OR (s.status IN {0} AND (m.status NOT IN {0} OR s.finished > m.finished))",
        kFinished));
    const int64_t picked = scalar(out, "SELECT count(*) FROM temp.merge_pick");
    const int64_t replaced = scalar(out, "SELECT count(*) FROM temp.merge_pick WHERE existed");
    const int64_t in_shard = scalar(out, "SELECT count(*) FROM shard.cells");
    out.exec("DELETE FROM main.cells WHERE cell_id IN (SELECT cell_id FROM temp.merge_pick)");
    out.exec(fmt::format("INSERT INTO main.cells({0}) SELECT {0} FROM shard.cells WHERE cell_id IN "
                         "(SELECT cell_id FROM temp.merge_pick)",
                         kCellCols));
    for (const char* t : per_cell_tables()) {
      out.exec(fmt::format("DELETE FROM main.{} WHERE cell_id IN (SELECT cell_id FROM temp.merge_pick)", t));
      const std::string columns = common_columns(out, t);
      if (columns.empty()) continue;
      out.exec(fmt::format("INSERT INTO main.{0}({1}) SELECT {1} FROM shard.{0} WHERE cell_id IN "
                           "(SELECT cell_id FROM temp.merge_pick)",
                           t, columns));
    }
    out.exec("INSERT OR IGNORE INTO main.artefacts SELECT * FROM shard.artefacts");
    if (scalar(out, "SELECT count(*) FROM shard.sqlite_master WHERE type='table' AND name='experiment_cells'") > 0)
      out.exec("INSERT OR IGNORE INTO main.experiment_cells(experiment, cell_id) "
               "SELECT experiment, cell_id FROM shard.experiment_cells");
    out.exec("DROP TABLE temp.merge_pick");
    tx.commit();
    summary.cells_added += picked - replaced;
    summary.cells_replaced += replaced;
    summary.cells_kept += in_shard - picked;
    log << fmt::format("{}: {} cells: {} added, {} replaced by a newer finished attempt, {} kept as they were\n", shard,
                       in_shard, picked - replaced, replaced, in_shard - picked);
  } catch (...) {
    sqlite3_exec(out.handle(), "DETACH DATABASE shard", nullptr, nullptr, nullptr);
    throw;
  }
  out.exec("DETACH DATABASE shard");
}

}  // namespace

MergeSummary merge_databases(const std::string& out_db, const std::vector<std::string>& shards, std::ostream& log) {
  MergeSummary summary;
  for (const auto& shard : shards) {
    std::error_code ec;
    if (std::filesystem::equivalent(shard, out_db, ec))
      throw Error(fmt::format("{}: a database cannot be merged into itself", shard));
    if (!std::filesystem::is_regular_file(shard, ec)) throw Error(fmt::format("{}: no such database", shard));
  }
  Store out(out_db);
  for (const auto& shard : shards) {
    merge_one(out, shard, summary, log);
    ++summary.shards;
  }
  return summary;
}

}  // namespace dq
