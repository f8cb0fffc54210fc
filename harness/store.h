#pragma once
// The results database (SQLite, WAL). Schema: harness/README.md. Many processes may share one file
// (runners, cell processes, Slurm tasks on one host): every write is one short BEGIN IMMEDIATE
// transaction under a busy timeout, a cell is claimed in one transaction (harness/runner.h), and a
// cell process writes only the rows of the cells it owns (RUNNING with its host, pid and start time),
// so a process whose cell was taken over can never add to the new attempt.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/stage_timer.h"
#include "harness/process_identity.h"
#include "patching/patches.h"

struct sqlite3;

namespace dq {

struct CellConfig;
struct Experiment;

enum class CellStatus { Pending, Running, Done, Oom, Timeout, Failed };
const char* status_name(CellStatus status);
CellStatus status_from_name(const std::string& name);
// DONE and OOM are results; FAILED and TIMEOUT ended without one.
inline bool is_finished(CellStatus status) { return status != CellStatus::Pending && status != CellStatus::Running; }

struct CellRow {
  std::string cell_id;
  std::string experiment;
  std::string dataset;
  std::string method;       // as tables show it: the canonical spec, or a method's own label
  std::string method_name;  // the registered name ("random", "indices")
  double ratio = 0;
  int64_t seed = 0;
  CellStatus status = CellStatus::Pending;
  std::string error;
  int64_t heartbeat_age_s = -1;  // seconds since the last heartbeat; -1 if none
  int64_t attempts = 0;          // the attempt id: incremented by every claim
  ProcessIdentity owner;         // the process of the current (or last) attempt
  std::string started, finished; // ISO 8601 UTC, empty if never
  double run_s = -1;             // finished - started (or now - started while RUNNING); -1 if never started
};

struct Provenance {
  std::string git_commit;
  bool git_dirty = false;
  std::string host, cpu_model, torch_version, faiss_version, sqlite_version, build_type, omp_wait_policy;
  std::string command_line;
  int64_t cores = 0, threads = 0;
  // The build's code identity (core/code_identity.h), the identities of the producers the cell used
  // as JSON {"selection": "<sha256>", ...}, and the library versions the build was configured with.
  std::string code_identity, code_identities, library_versions;
  // The host's 1-minute load average when the cell started and ended (-1: unknown): timings taken
  // under other load are not comparable.
  double load1_start = -1, load1_end = -1;
};

// A stored selection (table selections): dataset ids in stored order, kept fractions, and the sha256
// recorded for ids and keep (int64 then float32 bytes, native little-endian).
struct StoredSelection {
  std::vector<int64_t> ids;
  std::vector<float> keep;
  std::string sha256;
};
// The sha256 record_selection stores for `ids` and `keep`.
std::string selection_sha256(const std::vector<int64_t>& ids, const std::vector<float>& keep);

// One artefact a cell used or made, as recorded (table cell_artefacts; core/content_hash.h). Per-class
// artefacts (KNN graphs, bins) are one record of `parts` classes: sha256 and key then hash the parts'
// in class order.
struct CellArtefact {
  std::string kind;    // dataset, extractor_network, embeddings, knn_graph, bins, patch_scores, cam_network, mae, selection
  std::string role;    // "input": the cell used it; "output": the cell made it (its stored selection)
  std::string sha256;  // content hash
  std::string key;     // cache key ("" when none)
  int64_t bytes = -1;
  bool from_cache = false;
  int64_t parts = 1;
};

// When may a cell be (re)run? DONE and OOM never, unless forced; FAILED/TIMEOUT with retry_failed;
// RUNNING when its owner is gone (same host: at once) or its heartbeat is stale (other hosts).
struct ClaimPolicy {
  bool retry_failed = false;
  bool force = false;           // also re-run finished cells (never one whose owner is alive)
  int64_t stale_after_s = 120;  // heartbeat age after which another host's RUNNING cell is abandoned
};

struct ResumeDecision {
  bool run = false;
  std::string reason;  // why not (or why: "owner pid 123 on this host is gone")
};
ResumeDecision decide_resume(const CellRow& row, const ClaimPolicy& policy);

struct ClaimResult {
  bool claimed = false;
  int64_t attempt = 0;
  CellRow row;         // the row as found (before the claim)
  std::string reason;  // from decide_resume
};

// What a cell stored, read back (Store::patch_masks, bins; StoredSelection above).
struct StoredMasks {
  PatchGrid grid;
  int64_t count = 0;           // images: row i belongs to the stored selection's ids[i]
  std::vector<uint8_t> masks;  // count x grid.count() bytes, 1 = kept (unpacked)
};
struct StoredClassBins {
  int64_t label = 0;
  std::vector<std::vector<int64_t>> bins;  // dataset ids, bins in generation order, ids in pick order
};

enum class OpenMode { ReadWrite, ReadOnly };

class Store {
 public:
  // ReadWrite creates the file and schema if needed. ReadOnly never writes: it also opens a database
  // on a read-only mount (falling back to SQLite's immutable mode) and throws if the file is missing.
  explicit Store(const std::string& path, OpenMode mode = OpenMode::ReadWrite);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }

  void record_experiment(const Experiment& ex);
  // Whether the experiment's row holds this file and exactly this YAML text (then record_experiment
  // would change nothing but the time; it hashes every cell id of the matrix).
  bool experiment_recorded(const Experiment& ex);
  // Inserts the cell as PENDING unless it exists; returns its current row.
  CellRow ensure_cell(const CellConfig& cell);
  // ensure_cell for many cells in one transaction.
  void ensure_cells(const std::vector<CellConfig>& cells);
  std::optional<CellRow> find_cell(const std::string& cell_id);
  // Every cell, or those of `experiment`: the cells it owns and those it shares (experiment_cells).
  std::vector<CellRow> cells(const std::string& experiment = "");
  // The experiments other than `owner` (the cell row's own) whose matrices also hold the cell, as
  // recorded when they were run (ensure_cell); empty for a database written before they were recorded.
  std::vector<std::string> other_experiments(const std::string& cell_id, const std::string& owner);
  // The cell's canonical configuration as stored (JSON text, CellConfig::canonical_json); nullopt for
  // an unknown cell.
  std::optional<std::string> config(const std::string& cell_id);

  // In one transaction: inserts the cell if new, decides with decide_resume and, if it may run, marks
  // it RUNNING owned by this process (attempt + 1) and clears the earlier attempt's rows. Two
  // processes claiming the same cell: exactly one gets it.
  ClaimResult claim_cell(const CellConfig& cell, const ClaimPolicy& policy);
  // Sets matching cells that are not RUNNING back to PENDING (for --force); returns how many.
  int64_t reset_cells(const std::vector<std::string>& cell_ids);

  // Cell lifecycle. Writes for a cell are accepted only while this process owns it; otherwise they
  // throw dq::Error ("taken over"). Each call is one transaction. record_stage and record_metrics
  // refuse a NaN or infinite metric with a dq::Error naming the metric and the cell, writing nothing
  // of the call.
  void start_cell(const std::string& cell_id);  // claims the cell unless this process already owns it
  void heartbeat(const std::string& cell_id);   // silently ignored unless owned
  void record_stage(const std::string& cell_id, const StageRecord& stage,
                    const std::map<std::string, double>& metrics = {});
  void record_metrics(const std::string& cell_id, const std::map<std::string, double>& metrics);
  void record_selection(const std::string& cell_id, const std::vector<int64_t>& ids, const std::vector<float>& keep);
  // The patch masks the cell applied (count x grid.count() bytes, 1 = kept), row i for the i-th id of
  // the selection it records with them; kept as packed bits (pack_masks).
  void record_patch_masks(const std::string& cell_id, const PatchGrid& grid, const std::vector<uint8_t>& masks);
  // The bins of a bin-based method (DQ family), per class (ClassSelection::bins); zlib-compressed.
  void record_bins(const std::string& cell_id, const std::vector<StoredClassBins>& bins);
  void record_artefact(const std::string& key, const std::string& kind, const std::string& path, int64_t bytes);
  // The cell's record of the artefacts it used or made (replacing earlier records of the same kinds).
  void record_cell_artefacts(const std::string& cell_id, const std::vector<CellArtefact>& artefacts);
  // Provenance + final status in one transaction: a cell is DONE only here.
  void finish_cell(const std::string& cell_id, CellStatus status, const std::string& error,
                   const Provenance& provenance);
  // Ends a cell that `owner` still holds RUNNING (a runner recording what its dead child could not);
  // returns false if the owner no longer holds it.
  bool end_abandoned(const std::string& cell_id, const ProcessIdentity& owner, CellStatus status,
                     const std::string& error);
  // Unconditional (tests, tools).
  void set_status(const std::string& cell_id, CellStatus status, const std::string& error);

  std::map<std::string, double> metrics(const std::string& cell_id);  // recorded values only (no NULL)
  std::vector<StageRecord> stages(const std::string& cell_id);
  // The hex sha256 of each selection (cell_id -> sha256).
  std::map<std::string, std::string> selection_hashes();
  // What a cell recorded of its artefacts, by kind (empty for a cell of a database from before they
  // were recorded). The one way to ask which bytes a cell's result came from (exports, verify).
  std::vector<CellArtefact> cell_artefacts(const std::string& cell_id);
  // The cell's stored selection; nullopt if none. Throws dq::Error when the row is damaged.
  std::optional<StoredSelection> selection(const std::string& cell_id);
  // nullopt when the cell recorded none: it ran no patch stage, or was recorded before the store kept
  // masks (harness/README.md). Throws dq::Error when the row is damaged.
  std::optional<StoredMasks> patch_masks(const std::string& cell_id);
  std::vector<StoredClassBins> bins(const std::string& cell_id);  // empty when none were recorded
  // The provenance recorded when the cell finished; nullopt if none.
  std::optional<Provenance> provenance(const std::string& cell_id);

  sqlite3* handle() { return db_; }
  bool read_only() const { return read_only_; }
  // Whether the database holds this table (an older or foreign file may lack one).
  bool has_table(const std::string& table);
  // Runs SQL with no result rows; throws dq::Error with the database path on failure.
  void exec(const std::string& sql);

 private:
  void connect();  // the constructor's work: open, check or create the schema
  void open(const std::string& uri, int flags);
  void migrate();
  void shadow_missing_columns();
  std::vector<std::string> missing_columns(const std::string& table);
  // Throws unless this process owns `cell_id` (inside a transaction).
  void require_owned(const std::string& cell_id);
  void claim_row(const std::string& cell_id);

  sqlite3* db_ = nullptr;
  std::string path_;
  bool read_only_ = false;
  ProcessIdentity self_;
};

// The tables that hold rows of one cell (keyed by cell_id besides `cells`): cleared when a cell is
// claimed again, copied by `dqbench merge` with the cell.
const std::vector<const char*>& per_cell_tables();

// The identity of an experiment's matrix: sha256 of its cell ids in order. Shards of one definition
// merge; shards of another are refused.
std::string experiment_definition(const Experiment& ex);

}  // namespace dq
