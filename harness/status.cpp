#include "harness/status.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "core/text_escape.h"
#include "core/units.h"
#include "datasets/dataset.h"
#include "harness/sql.h"

namespace dq {

namespace {

// Every string from the database is shown through terminal_text (core/text_escape.h): the database
// may come from someone else.
std::string label_of(const CellRow& r) {
  return terminal_text(fmt::format("{} {} r={} s={}", r.dataset, r.method, r.ratio, r.seed));
}
std::string short_id(const CellRow& r) { return terminal_text(r.cell_id.substr(0, 12)); }

std::string last_stage(Store& store, const std::string& cell_id) {
  Statement s(store.handle(), "SELECT stage FROM stages WHERE cell_id=? AND instr(stage,'/')=0 ORDER BY rowid DESC LIMIT 1",
              store.path());
  s.bind(1, cell_id);
  return s.step() ? "after " + terminal_text(s.text(0)) : "starting";
}

}  // namespace

std::string render_status(Store& store, const std::string& experiment, int64_t slowest) {
  const auto rows = store.cells(experiment);
  std::map<CellStatus, int64_t> counts;
  for (const auto& r : rows) ++counts[r.status];
  // DONE cells whose approximate neighbours stayed below their recall target (BGFDQ records it per
  // class, methods/bgfdq.cpp) say so on every line that names them.
  std::map<std::string, std::pair<double, double>> below_target;  // cell -> (recall@k, target)
  for (const auto& r : rows) {
    if (r.status != CellStatus::Done) continue;
    const auto m = store.metrics(r.cell_id);
    const auto flag = m.find("diag_knn_recall_below_target_mean");
    if (flag == m.end() || !(flag->second > 0)) continue;
    const auto recall = m.find("diag_knn_recall_at_k_mean"), target = m.find("diag_knn_recall_target_mean");
    below_target[r.cell_id] = {recall == m.end() ? NAN : recall->second, target == m.end() ? NAN : target->second};
  }
  auto status_text = [&](const CellRow& r) {
    const auto it = below_target.find(r.cell_id);
    return it == below_target.end() ? std::string(status_name(r.status))
                                    : fmt::format("{} below its recall target (recall@k {:.4f} < {:.2f})",
                                                  status_name(r.status), it->second.first, it->second.second);
  };
  std::string out = fmt::format("{}{}: {} cells:", store.path(), experiment.empty() ? "" : " (" + terminal_text(experiment) + ")",
                                rows.size());
  for (auto s : {CellStatus::Done, CellStatus::Oom, CellStatus::Running, CellStatus::Pending, CellStatus::Failed,
                 CellStatus::Timeout})
    out += fmt::format(" {} {}", counts[s], status_name(s));
  if (!below_target.empty()) out += fmt::format(" ({} DONE below its recall target)", below_target.size());
  out += "\n";

  ClaimPolicy policy;
  std::vector<const CellRow*> running, failed, finished;
  for (const auto& r : rows) {
    if (r.status == CellStatus::Running) running.push_back(&r);
    if (r.status == CellStatus::Failed || r.status == CellStatus::Timeout) failed.push_back(&r);
    if (r.status == CellStatus::Done || r.status == CellStatus::Oom) finished.push_back(&r);
  }
  if (!running.empty()) {
    out += "\nrunning:\n";
    for (const auto* r : running) {
      const ResumeDecision d = decide_resume(*r, policy);
      out += fmt::format("  {}  {:<40} {} for {}, heartbeat {}s ago, {} pid {}{}\n", short_id(*r), label_of(*r),
                         last_stage(store, r->cell_id), format_duration(r->run_s), r->heartbeat_age_s,
                         terminal_text(r->owner.host), r->owner.pid,
                         d.run ? fmt::format(" [abandoned: {}]", terminal_text(d.reason)) : "");
    }
  }
  if (!finished.empty() && slowest > 0) {
    std::sort(finished.begin(), finished.end(), [](const CellRow* a, const CellRow* b) { return a->run_s > b->run_s; });
    out += "\nslowest:\n";
    for (size_t i = 0; i < finished.size() && static_cast<int64_t>(i) < slowest; ++i)
      out += fmt::format("  {}  {:<40} {:>8}  {}\n", short_id(*finished[i]), label_of(*finished[i]),
                         format_duration(finished[i]->run_s), status_text(*finished[i]));
  }
  if (!below_target.empty()) {
    out += "\nDONE below the recall target:\n";
    for (const auto& r : rows)
      if (below_target.count(r.cell_id))
        out += fmt::format("  {}  {:<40} {}\n", short_id(r), label_of(r), status_text(r));
  }
  if (!failed.empty()) {
    out += "\nfailed:\n";
    for (const auto* r : failed) {
      out += fmt::format("  {}  {:<40} {} (attempt {}):\n", short_id(*r), label_of(*r),
                         status_name(r->status), r->attempts);
      size_t start = 0;
      int lines = 0;
      while (start <= r->error.size() && lines < 6) {
        const size_t nl = r->error.find('\n', start);
        out += "      " + terminal_text(r->error.substr(start, nl == std::string::npos ? std::string::npos : nl - start)) + "\n";
        ++lines;
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
    }
  }
  return out;
}

PeakEstimate estimate_peak(const CellConfig& cell, int64_t shared_size) {
  PeakEstimate e;
  const DatasetLoaderInfo& loader = DatasetRegistry::instance().find(cell.dataset.kind, "dataset kind");
  const std::optional<DatasetSizes> sizes = loader.sizes ? loader.sizes(cell.dataset.params) : std::nullopt;
  if (!sizes) {
    e.detail = "sizes unknown before loading (" + cell.dataset.kind + ")";
    return e;
  }
  if (sizes->dim == 0) {  // images: the embedding width is the extractor's, known once it runs
    e.detail = "embedding width unknown before extraction (" + cell.dataset.kind + ")";
    return e;
  }
  const int64_t m = sizes->largest_class, d = sizes->dim;
  e.data_bytes = 2 * sizes->train * d * 4;  // the features and the embeddings taken from them
  const PeakBytes peak = cell.method.peak_bytes({.largest_class = m, .dim = d, .shared_size = shared_size});
  e.declared_bytes = peak.bytes;
  e.detail = fmt::format("M={} d={}: {}", m, d,
                         peak.bytes < 0 ? "no estimate for method '" + cell.method.name + "'" : peak.model);
  return e;
}

std::string render_dry_run(const Experiment& ex, Store* store) {
  std::string out = fmt::format("dry run of '{}' ({} cells, database {}, memory budget {} per cell, timeout {}); "
                                "nothing is run or written\n",
                                ex.name, ex.cells.size(), ex.database, format_bytes(ex.memory_budget), format_duration(ex.timeout_s));
  out += fmt::format("{:>4}  {:<12}  {:<8} {:>10} {:>10}  {}\n", "#", "cell", "status", "declared", "data", "cell / estimate");
  int64_t will_oom = 0, to_run = 0;
  for (size_t i = 0; i < ex.cells.size(); ++i) {
    const auto& c = ex.cells[i];
    std::string status = "PENDING";
    if (store)
      if (auto row = store->find_cell(c.id())) status = status_name(row->status);
    if (status != "DONE" && status != "OOM") ++to_run;
    const PeakEstimate e = estimate_peak(c, knn_sweep_k(ex, c));
    const bool oom = e.declared_bytes >= 0 && static_cast<uint64_t>(e.declared_bytes) > c.memory_budget;
    will_oom += oom;
    out += fmt::format("{:>4}  {}  {:<8} {:>10} {:>10}  {}  [{}]{}\n", i, c.id().substr(0, 12), status,
                       e.declared_bytes < 0 ? "?" : format_bytes(static_cast<uint64_t>(e.declared_bytes)),
                       e.data_bytes < 0 ? "?" : format_bytes(static_cast<uint64_t>(e.data_bytes)), c.label(), e.detail,
                       oom ? "  -> will end OOM" : "");
  }
  out += fmt::format("{} cells would run; {} will end OOM under the budget of {}\n", to_run, will_oom,
                     format_bytes(ex.memory_budget));
  return out;
}

}  // namespace dq
