#pragma once
// The results database (SQLite, WAL). Schema: harness/README.md. One writer at a time: the runner
// writes only while no cell process runs, a cell process writes only its own rows.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/stage_timer.h"

struct sqlite3;

namespace dq {

struct CellConfig;
struct Experiment;

enum class CellStatus { Pending, Running, Done, Oom, Timeout, Failed };
const char* status_name(CellStatus s);
CellStatus status_from_name(const std::string& name);

struct CellRow {
  std::string cell_id;
  std::string experiment;
  std::string dataset;
  std::string method;
  double ratio = 0;
  int64_t seed = 0;
  CellStatus status = CellStatus::Pending;
  std::string error;
  int64_t heartbeat_age_s = -1;  // seconds since the last heartbeat; -1 if none
};

struct Provenance {
  std::string git_commit;
  bool git_dirty = false;
  std::string host, cpu_model, torch_version, faiss_version, sqlite_version, build_type, omp_wait_policy;
  std::string command_line;
  int64_t cores = 0, threads = 0;
};

class Store {
 public:
  explicit Store(const std::string& path);  // creates the file and schema if needed
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }

  void record_experiment(const Experiment& ex);
  // Inserts the cell as PENDING unless it exists; returns its current row.
  CellRow ensure_cell(const CellConfig& cell);
  std::optional<CellRow> find_cell(const std::string& cell_id);
  std::vector<CellRow> cells(const std::string& experiment = "");

  // Cell lifecycle (each call is one transaction). record_stage and record_metrics refuse a NaN or
  // infinite metric with a dq::Error naming the metric and the cell, writing nothing of the call.
  void start_cell(const std::string& cell_id);        // RUNNING, clears earlier stages/metrics
  void heartbeat(const std::string& cell_id);
  void record_stage(const std::string& cell_id, const StageRecord& stage,
                    const std::map<std::string, double>& metrics = {});
  void record_metrics(const std::string& cell_id, const std::map<std::string, double>& metrics);
  void record_selection(const std::string& cell_id, const std::vector<int64_t>& ids, const std::vector<float>& keep);
  void record_artefact(const std::string& key, const std::string& kind, const std::string& path, int64_t bytes);
  // Provenance + final status in one transaction: a cell is DONE only here.
  void finish_cell(const std::string& cell_id, CellStatus status, const std::string& error,
                   const Provenance& provenance);
  void set_status(const std::string& cell_id, CellStatus status, const std::string& error);

  std::map<std::string, double> metrics(const std::string& cell_id);
  std::vector<StageRecord> stages(const std::string& cell_id);

  sqlite3* handle() { return db_; }
  // Runs SQL with no result rows; throws dq::Error with the database path on failure.
  void exec(const std::string& sql);

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace dq
