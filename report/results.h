#pragma once
// Recorded cells read back from one or more result databases (harness/README.md has the schema),
// read-only and in a stable order, for the paper tables, figures and the HTML report. Nothing here
// writes to a database.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dq {

class Store;

struct StageTiming {
  double wall_s = 0, cpu_s = 0;
  int64_t peak_rss_bytes = 0;
};

struct CellResult {
  std::string db;          // the database file the row came from (as given on the command line)
  std::string cell_id, experiment;
  std::string dataset;     // the experiment's own name for the dataset ("cifar10")
  std::string dataset_kind;  // loader kind ("image_folder", "synthetic_embeddings", ...)
  std::string method;      // canonical spec "bgfdq(alpha=1,k=20,...)"
  std::string method_name; // "bgfdq"
  double ratio = 0;
  int64_t seed = 0;
  std::string status;      // DONE, OOM, TIMEOUT, FAILED, RUNNING, PENDING
  std::string error;
  // Parameters from the cell's canonical config, as text (numbers as JSON prints them, strings bare).
  std::map<std::string, std::string> dataset_params, method_params;
  std::map<std::string, std::string> extractor;  // with "kind"; empty when the cell has none
  std::map<std::string, std::string> train;      // empty when the cell trains nothing (train: none)
  std::map<std::string, std::string> patches;    // the `patches:` section; empty when it is not in the cell's id
  double memory_budget_bytes = 0;
  std::map<std::string, double> metrics;
  std::map<std::string, StageTiming> stages;     // by stage name ("select", "select/neighbour_id")
  std::string cpu_model;                          // from provenance; empty if none recorded
  // What the cell recorded of the artefacts it used (harness/cell_artefacts.h): kind -> content
  // sha256. Empty for a cell of a database from before dqbench recorded them (its pairing is unverified).
  std::map<std::string, std::string> artefacts;
  bool git_dirty = false;                         // provenance: ran from a tree with uncommitted changes
  std::string git_commit;
  std::map<std::string, std::string> code;        // producer -> code identity (provenance.code_identities)
  double load1_start = -1, load1_end = -1;        // host load average (1 min) at start and end; -1 unknown

  bool done() const { return status == "DONE"; }
  // DONE without any recorded input artefact: from a database written before they were recorded.
  bool unrecorded() const;
  std::optional<double> metric(const std::string& name) const;
  std::optional<double> stage_wall(const std::string& stage) const;
  // The method parameter's text. Every parameter the cell's method declares is present: a stored spec
  // is read back through its MethodSpec when the database is read, which fills in the declared
  // defaults, so no reader keeps defaults of its own. Empty when the method has no such parameter, or
  // is not registered here (a plugin that is not loaded).
  std::string method_param(const std::string& key) const;
  // Whether that parameter holds the default its registered method declares (false for a parameter or
  // method unknown here).
  bool method_param_is_default(const std::string& key) const;
  // Everything of the cell's configuration that enters its id except its seed (and the experiment's
  // name), flattened to text: "method" (the registered name), the method parameters by their own
  // names, and "dataset.kind", "dataset.<param>", "extractor.<key>", "train.<key>", "patches.<key>",
  // "memory_budget". Cells with equal configurations differ only by seed: a table averages them.
  std::map<std::string, std::string> configuration() const;
};

struct ResultSet {
  std::vector<std::string> databases;  // in the order given
  // Sorted by (experiment, dataset, method_name, method, ratio, seed, cell_id). A cell found in more
  // than one database under the same experiment is kept once: the DONE row wins, then the first
  // database given. (Cell ids hash the configuration only: different experiments may share one.)
  std::vector<CellResult> cells;
  std::vector<std::string> experiments() const;  // sorted, unique
};

// Every cell of one open database (harness/store.h, the one reader of the results database), in the
// store's order. Throws dq::Error naming the file when it is not a dqbench results database.
std::vector<CellResult> read_results(Store& store);

// Opens each file read-only (Store, OpenMode::ReadOnly). Throws dq::Error naming the file when it does not exist or is not a
// dqbench results database.
ResultSet load_results(const std::vector<std::string>& database_paths);

}  // namespace dq
