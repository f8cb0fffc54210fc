#include "harness/verify.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <set>

#include "core/error.h"
#include "harness/cell_artefacts.h"
#include "harness/experiment.h"
#include "harness/sql.h"

namespace dq {

namespace {

struct Cell {
  CellRow row;
  std::vector<CellArtefact> artefacts;
  std::optional<Provenance> provenance;
  std::string label() const {
    return fmt::format("{} {} r={:g} s={} [{}]", row.dataset, row.method, row.ratio, row.seed, row.cell_id.substr(0, 12));
  }
};

// The producers whose code decides a stored selection: re-deriving with other code proves nothing.
const std::vector<Producer> kSelectionProducers = {Producer::Dataset,     Producer::ExtractorNetwork,
                                                   Producer::Embeddings,  Producer::KnnGraph,
                                                   Producer::Bins,        Producer::PatchScores,
                                                   Producer::Mae,         Producer::Selection,
                                                   Producer::PatchStage};

class Report {
 public:
  explicit Report(std::ostream& out) : out_(out) {}
  void ok(const std::string& text) { line("ok", text); }
  void fail(const std::string& text) {
    line("FAIL", text);
    ++failures;
  }
  void skip(const std::string& text) { line("skip", text); }
  void note(const std::string& text) { out_ << "    " << text << "\n"; }
  int64_t failures = 0;

 private:
  void line(const char* tag, const std::string& text) { out_ << fmt::format("  [{:>4}] {}\n", tag, text); }
  std::ostream& out_;
};

// "a (3 cells: x, y, z)" with at most `shown` labels.
std::string cells_text(const std::vector<const Cell*>& cells, size_t shown = 3) {
  std::string labels;
  for (size_t i = 0; i < cells.size() && i < shown; ++i) labels += (i ? "; " : "") + cells[i]->label();
  if (cells.size() > shown) labels += fmt::format("; and {} more", cells.size() - shown);
  return fmt::format("{} cell{}: {}", cells.size(), cells.size() == 1 ? "" : "s", labels);
}

void check_selections(Store& store, const std::vector<const Cell*>& done, Report& report) {
  int64_t checked = 0;
  for (const Cell* cell : done) {
    const Cell& c = *cell;
    const auto sel = store.selection(c.row.cell_id);
    if (!sel) {
      report.fail(fmt::format("selection: {} is DONE but stores no selection", c.label()));
      continue;
    }
    const std::string sha = selection_sha256(sel->ids, sel->keep);
    if (sha != sel->sha256) {
      report.fail(fmt::format("selection: {} stores ids and keep fractions hashing to {}, recorded as {}", c.label(),
                              short_hash(sha), short_hash(sel->sha256)));
      continue;
    }
    for (const auto& a : c.artefacts)
      if (a.kind == "selection" && a.sha256 != sha)
        report.fail(fmt::format("selection: {} stores selection {}, its artefact record says {}", c.label(),
                                short_hash(sha), short_hash(a.sha256)));
    ++checked;
  }
  if (checked == static_cast<int64_t>(done.size()))
    report.ok(fmt::format("selections: {} stored selections match their recorded sha256", checked));
}

// The DONE cells of one dataset share their upstream artefacts (one experiment has one extractor).
void check_pairing(const std::vector<const Cell*>& cells, const std::string& dataset, Report& report) {
  bool clean = true;
  UpstreamHashes shared;
  for (const std::string& kind : upstream_kinds()) {
    std::map<std::string, std::vector<const Cell*>> by_hash;
    for (const Cell* c : cells)
      for (const auto& a : c->artefacts)
        if (a.kind == kind) by_hash[a.sha256].push_back(c);
    if (by_hash.size() == 1) shared[kind] = by_hash.begin()->first;
    if (by_hash.size() <= 1) continue;
    clean = false;
    report.fail(fmt::format("pairing: dataset {}: the cells used {} different {} (cells paired by seed or averaged "
                            "over seeds must share it):",
                            dataset, by_hash.size(), kind));
    for (const auto& [sha, with] : by_hash) report.note(fmt::format("{} {}: {}", kind, short_hash(sha), cells_text(with)));
  }
  if (clean)
    report.ok(fmt::format("pairing: the {} DONE cells of dataset {} share {}", cells.size(), dataset,
                          shared.empty() ? std::string("(no upstream artefact)") : upstream_text(shared)));
}

// One code identity per producer among the experiment's DONE cells.
void check_code(const std::vector<const Cell*>& cells, Report& report) {
  std::map<std::string, std::map<std::string, std::vector<const Cell*>>> by_producer;
  for (const Cell* c : cells)
    if (c->provenance)
      for (const auto& [producer, identity] : parse_code_identities(c->provenance->code_identities))
        by_producer[producer][identity].push_back(c);
  bool clean = true;
  for (const auto& [producer, identities] : by_producer) {
    if (identities.size() <= 1) continue;
    clean = false;
    report.fail(fmt::format("code: the cells ran {} different versions of producer '{}' (a result mixed with "
                            "results of other code):",
                            identities.size(), producer));
    for (const auto& [identity, with] : identities)
      report.note(fmt::format("{} {}: {}", producer, short_hash(identity), cells_text(with)));
  }
  if (clean) report.ok(fmt::format("code: the DONE cells record one code identity per producer ({} producers)",
                                   by_producer.size()));
}

void check_dirty(const std::vector<const Cell*>& cells, Report& report) {
  std::vector<const Cell*> dirty;
  std::set<std::string> commits;
  for (const Cell* c : cells)
    if (c->provenance && c->provenance->git_dirty) {
      dirty.push_back(c);
      commits.insert(c->provenance->git_commit.substr(0, 8));
    }
  if (dirty.empty()) {
    report.ok("clean tree: no DONE cell ran from uncommitted changes");
    return;
  }
  std::string list;
  for (const auto& commit : commits) list += (list.empty() ? "" : ", ") + commit;
  report.fail(fmt::format("dirty tree: {} of {} DONE cells ran from a tree with uncommitted changes on commit(s) {} "
                          "(provenance git_dirty = 1): their code is not in git; re-run them from a clean tree",
                          dirty.size(), cells.size(), list));
}

// The cells re-derived: round-robin over methods (sorted), each method's cells by cell id.
std::vector<const Cell*> sample_cells(const std::vector<const Cell*>& cells, const VerifyOptions& options) {
  std::map<std::string, std::vector<const Cell*>> by_method;
  for (const Cell* c : cells) by_method[c->row.method].push_back(c);
  for (auto& [m, list] : by_method)
    std::sort(list.begin(), list.end(), [](const Cell* a, const Cell* b) { return a->row.cell_id < b->row.cell_id; });
  std::vector<const Cell*> out;
  const size_t want = options.all ? cells.size() : static_cast<size_t>(std::max<int64_t>(options.sample, 0));
  for (size_t round = 0; out.size() < want; ++round) {
    bool any = false;
    for (const auto& [m, list] : by_method)
      if (round < list.size() && out.size() < want) {
        out.push_back(list[round]);
        any = true;
      }
    if (!any) break;
  }
  return out;
}

// A folder removed with everything in it when the scope ends.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dqbench-verify-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw Error("verify: cannot create a scratch folder under " + tmpl);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The experiment as recorded (its YAML), parsed by this build; nullopt with the reason when it cannot be.
std::optional<Experiment> recorded_experiment(Store& store, const std::string& name, const std::string& scratch,
                                              std::string& why) {
  Statement s(store.handle(), "SELECT coalesce(yaml,'') FROM experiments WHERE name=?", store.path());
  s.bind(1, name);
  if (!s.step() || s.text(0).empty()) {
    why = "the database holds no experiment definition";
    return std::nullopt;
  }
  const std::string file = scratch + "/" + name + ".yaml";
  std::ofstream(file) << s.text(0);
  try {
    return load_experiment(file);
  } catch (const Error& e) {
    why = std::string("this build cannot read the recorded experiment: ") + e.what();
    return std::nullopt;
  }
}

enum class Rederived { Same, Differs, Skipped };

Rederived rederive(const Experiment& recorded, const Cell& cell, const VerifyOptions& options, const std::string& scratch,
                   Report& report) {
  const auto config = std::find_if(recorded.cells.begin(), recorded.cells.end(),
                                   [&](const CellConfig& c) { return c.id() == cell.row.cell_id; });
  if (config == recorded.cells.end()) {
    report.skip(fmt::format("{}: this build does not expand the recorded experiment to that cell (its configuration "
                            "text changed)",
                            cell.label()));
    return Rederived::Skipped;
  }
  const auto recorded_code = parse_code_identities(cell.provenance ? cell.provenance->code_identities : "");
  for (const Producer p : kSelectionProducers) {
    auto it = recorded_code.find(producer_name(p));
    if (it != recorded_code.end() && it->second != code_identity(p)) {
      report.skip(fmt::format("{}: this build's '{}' code is not the cell's ({} here, {} recorded)", cell.label(),
                              producer_name(p), short_hash(code_identity(p)), short_hash(it->second)));
      return Rederived::Skipped;
    }
  }
  Experiment ex = recorded;
  if (!options.cache_dir.empty()) ex.cache_dir = options.cache_dir;
  ex.database = scratch + "/rederive-" + cell.row.cell_id.substr(0, 12) + ".db";
  Store store(ex.database);
  store.ensure_cell(*config);
  CellRunOptions run;
  run.progress_prefix = "[verify " + cell.row.cell_id.substr(0, 12) + "]";
  run.hard_memory_limit = false;
  run.selection_only = true;
  for (const auto& a : cell.artefacts)
    if (a.role == "input") run.expected_inputs.push_back(a);
  const CellStatus status = options.run_cell(ex, *config, store, run);
  const auto row = store.find_cell(cell.row.cell_id);
  if (status != CellStatus::Done) {
    const std::string error = row ? row->error : "?";
    const auto used = store.cell_artefacts(cell.row.cell_id);
    const bool dataset_loaded =
        std::any_of(used.begin(), used.end(), [](const CellArtefact& a) { return a.kind == "dataset"; });
    if (error.rfind("input ", 0) == 0 || !dataset_loaded) {
      report.skip(fmt::format("{}: {}", cell.label(), dataset_loaded ? error : "dataset not available here: " + error));
      return Rederived::Skipped;
    }
    report.fail(fmt::format("re-derive: {} ended {}: {}", cell.label(), status_name(status), error));
    return Rederived::Differs;
  }
  const auto again = store.selection(cell.row.cell_id);
  std::string recorded_sha;
  for (const auto& a : cell.artefacts)
    if (a.kind == "selection") recorded_sha = a.sha256;
  if (again && again->sha256 == recorded_sha) return Rederived::Same;
  std::string differing;
  std::map<std::string, std::string> now;
  for (const auto& a : store.cell_artefacts(cell.row.cell_id)) now[a.kind] = a.sha256;
  for (const auto& a : cell.artefacts)
    if (now.count(a.kind) && now[a.kind] != a.sha256)
      differing += fmt::format("{}{} {} -> {}", differing.empty() ? "" : ", ", a.kind, short_hash(a.sha256),
                               short_hash(now[a.kind]));
  report.fail(fmt::format("re-derive: {} stored selection {}, re-derived {} from the same inputs and code ({})",
                          cell.label(), short_hash(recorded_sha), again ? short_hash(again->sha256) : "none",
                          differing));
  return Rederived::Differs;
}

void verify_experiment(Store& store, const std::string& name, const std::vector<Cell>& cells,
                       const VerifyOptions& options, Report& report, VerifySummary& summary) {
  std::vector<const Cell*> done, legacy;
  for (const Cell& c : cells)
    if (c.row.status == CellStatus::Done) {
      done.push_back(&c);
      const bool recorded = std::any_of(c.artefacts.begin(), c.artefacts.end(),
                                        [](const CellArtefact& a) { return a.role == "input"; });
      if (!recorded) legacy.push_back(&c);
    }
  if (done.empty()) {
    report.skip("no DONE cells");
    return;
  }
  check_selections(store, done, report);
  check_dirty(done, report);
  if (!legacy.empty()) {
    summary.legacy = true;
    report.fail(fmt::format("legacy: pairing unverified: {} of {} DONE cells record no artefact hashes (run by a "
                            "dqbench from before they were recorded); re-run them",
                            legacy.size(), done.size()));
    if (legacy.size() < done.size()) report.note(cells_text(legacy));
  }
  std::vector<const Cell*> recorded;
  for (const Cell* c : done)
    if (std::find(legacy.begin(), legacy.end(), c) == legacy.end()) recorded.push_back(c);
  std::map<std::string, std::vector<const Cell*>> by_dataset;
  for (const Cell* c : recorded) by_dataset[c->row.dataset].push_back(c);
  for (const auto& [dataset, with] : by_dataset) check_pairing(with, dataset, report);
  if (!recorded.empty()) check_code(recorded, report);

  const auto sample = sample_cells(recorded, options);
  if (sample.empty() || !options.run_cell) return;
  ScratchDir scratch;
  std::string why;
  const auto experiment = recorded_experiment(store, name, scratch.path(), why);
  if (!experiment) {
    report.skip(fmt::format("re-derive: {}", why));
    summary.skipped += static_cast<int64_t>(sample.size());
    return;
  }
  int64_t same = 0;
  for (const Cell* c : sample) {
    const Rederived r = rederive(*experiment, *c, options, scratch.path(), report);
    same += r == Rederived::Same;
    summary.skipped += r == Rederived::Skipped;
  }
  summary.rederived += same;
  if (same > 0)
    report.ok(fmt::format("re-derive: {} of {} sampled DONE cells stored the same selection, byte for byte", same,
                          sample.size()));
}

}  // namespace

VerifySummary verify_database(const std::string& db, const VerifyOptions& options, std::ostream& out) {
  Store store(db, OpenMode::ReadOnly);
  VerifySummary summary;
  Report report(out);
  std::map<std::string, std::vector<Cell>> by_experiment;
  for (const CellRow& row : store.cells(options.experiment)) {
    Cell c{row, store.cell_artefacts(row.cell_id), store.provenance(row.cell_id)};
    by_experiment[row.experiment].push_back(std::move(c));
  }
  if (!options.experiment.empty() && by_experiment.empty())
    throw Error(fmt::format("{}: no cells of experiment '{}'", db, options.experiment));
  out << fmt::format("verify {}\n", db);
  for (const auto& [name, cells] : by_experiment) {
    const auto done = std::count_if(cells.begin(), cells.end(),
                                    [](const Cell& c) { return c.row.status == CellStatus::Done; });
    out << fmt::format("experiment {} ({} cells, {} DONE)\n", name, cells.size(), done);
    verify_experiment(store, name, cells, options, report, summary);
  }
  summary.failures = report.failures;
  if (summary.failures == 0)
    out << fmt::format("verified: {} ({} cells re-derived byte for byte, {} skipped)\n", db, summary.rederived,
                       summary.skipped);
  else
    out << fmt::format("FAILED: {} ({} problem{}{})\n", db, summary.failures, summary.failures == 1 ? "" : "s",
                       summary.legacy ? "; legacy database: re-run it with this dqbench" : "");
  return summary;
}

}  // namespace dq
