// Cost tables: Table 4 (runtime breakdown from the recorded stages) and the scale table (status,
// memory, time at 200,000 samples per class).
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/stats.h"
#include "core/units.h"
#include "report/cell_groups.h"
#include "report/labels.h"
#include "report/paper_numbers.h"
#include "report/paper_tables.h"

namespace dq {

namespace {

bool is_patch_stage(const std::string& stage) {
  return stage.find("patch") != std::string::npos || stage.find("spd") != std::string::npos;
}

// Patch dropping: the outermost recorded stages whose names mention patches or SPD.
std::optional<double> patch_drop_seconds(const CellResult& c) {
  std::optional<double> total;
  for (const auto& [name, t] : c.stages) {
    if (!is_patch_stage(name)) continue;
    const auto slash = name.rfind('/');
    if (slash != std::string::npos && is_patch_stage(name.substr(0, slash))) continue;
    total = total.value_or(0) + t.wall_s;
  }
  return total;
}

// The quantization pipeline without data loading, metrics or training: embed + select + top-level
// patch stages (patch stages under select are already inside select).
std::optional<double> pipeline_seconds(const CellResult& c) {
  auto sel = c.stage_wall("select");
  if (!sel) return std::nullopt;
  double total = *sel + c.stage_wall("embed").value_or(0);
  for (const auto& [name, t] : c.stages)
    if (name.find('/') == std::string::npos && is_patch_stage(name)) total += t.wall_s;
  return total;
}

// Embedding-level data (generated, or real embeddings read from .npy): the scale table's, not Table 4's.
bool synthetic(const CellResult& c) { return c.dataset_kind == "synthetic_embeddings" || c.dataset_kind == "embeddings_npy"; }

std::string cache_note(const std::vector<const CellResult*>& cells) {
  const auto n = std::count_if(cells.begin(), cells.end(),
                               [](const CellResult* c) { return c->done() && reused_cached_work(*c); });
  if (n == 0) return "";
  return fmt::format("{} cell{} read DQ's bins or BGFDQ's KNN graph from the cache (made by an earlier cell with the "
                     "same embeddings and parameters): {} left out of the selection timings, so n counts the cells "
                     "that did the work.",
                     n, n == 1 ? "" : "s", n == 1 ? "it is" : "they are");
}

std::string cpu_note(const std::vector<const CellResult*>& cells) {
  std::set<std::string> cpus;
  for (const CellResult* c : cells)
    if (!c->cpu_model.empty()) cpus.insert(c->cpu_model);
  std::string list;
  for (const auto& cpu : cpus) list += (list.empty() ? "" : "; ") + cpu;
  return fmt::format("Wall-clock seconds on {} (as recorded in the cells' provenance), a machine shared with other "
                     "jobs; the paper timed one RTX 4070 SUPER GPU.",
                     list.empty() ? "an unrecorded CPU" : list);
}

// The host's load while the cells ran (provenance load1_start/load1_end): timings averaged over
// different loads are said to be so.
std::string load_note(const std::vector<const CellResult*>& cells) {
  double low = 1e300, high = -1;
  int64_t unknown = 0, done = 0;
  for (const CellResult* c : cells) {
    if (!c->done()) continue;
    ++done;
    if (c->load1_start < 0 && c->load1_end < 0) {
      ++unknown;
      continue;
    }
    for (double v : {c->load1_start, c->load1_end})
      if (v >= 0) {
        low = std::min(low, v);
        high = std::max(high, v);
      }
  }
  if (done == 0) return "";
  if (unknown == done)
    return "The host's load while these cells ran was not recorded (a database from before dqbench recorded it): "
           "the timings of each row are averaged over whatever load each cell met.";
  return fmt::format("Host load (1-minute average) when the cells started and ended: {:.2f} to {:.2f}{}; the times of "
                     "each row are averaged over these loads, and cells timed under different load are not comparable "
                     "one to one.",
                     low, high, unknown ? fmt::format(" (not recorded for {} cells)", unknown) : std::string());
}

std::string column_title(const GridColumn& c) { return dataset_display(c.dataset) + " " + ratio_text(c.ratio); }

std::string paper_runtime(const std::string& dataset, double ratio, const std::string& row) {
  std::string out;
  bool any = false;
  for (const char* col : {"bin_gen_s", "neighbour_id_s", "patch_drop_s", "total_s"}) {
    const auto p = find_paper_number("Table 4", dataset, ratio, row, col);
    any |= p.has_value();
    out += (out.empty() ? "" : " / ") + (p ? paper_cell(p, 0) : std::string("?"));
  }
  return any ? out : "";
}

}  // namespace

TableFile build_runtime_table(const ResultSet& rs) {
  TableFile f;
  f.id = "table4_runtime";
  f.title = "Table 4: runtime breakdown (seconds)";
  f.intro =
      "From the stages each cell records: bin generation (select/bin_generation), neighbour identification "
      "(select/neighbour_id), patch dropping (stages named patch or spd), the whole selection (select), "
      "embedding (embed; a cache read when the embeddings were cached), training (train). 'embed+select+drop' "
      "is the quantization pipeline without data loading, metrics and training. Paper column: bin gen / NI / "
      "patch drop / total from BGFDQ Table 4 (CIFAR-10, 20%).";
  for (const auto& ex : rs.experiments()) {
    std::vector<const CellResult*> cells;
    for (const auto& c : rs.cells)
      if (c.experiment == ex && !synthetic(c)) cells.push_back(&c);
    if (cells.empty()) continue;
    const MethodGrid g = make_grid(cells, main_row_label);
    for (size_t col = 0; col < g.columns.size(); ++col) {
      std::vector<const CellResult*> in_column;
      bool substages = false;
      for (size_t r = 0; r < g.rows.size(); ++r)
        for (const CellResult* c : g.at(r, col).cells) {
          in_column.push_back(c);
          for (const auto& [name, t] : c->stages) substages |= c->done() && name.rfind("select/", 0) == 0;
        }
      std::set<std::string> methods;
      for (const CellResult* c : in_column) methods.insert(c->method_name);
      if (!substages || methods.size() < 2) continue;  // a comparison of methods, not one method's sweep
      const GridColumn& gc = g.columns[col];
      ReportTable t;
      t.title = fmt::format("Experiment {}, {}", ex, column_title(gc));
      t.caption = fmt::format("Seconds, mean ± std over seeds (n). Experiment `{}`. Target: {}. Extractor: {}.", ex,
                              recipe_text(*in_column.front()), extractor_text(*in_column.front()));
      t.header = {"method", "bin gen s", "NI s", "patch drop s", "select s", "embed s", "embed+select+drop s",
                  "train s", "paper bin/NI/drop/total s", "top-1 %", "paper top-1"};
      for (size_t r = 0; r < g.rows.size(); ++r) {
        const CellGroup& grp = g.at(r, col);
        if (grp.cells.empty()) continue;
        const std::string paper_row = paper_row_of(g.rows[r].label);
        t.rows.push_back({g.rows[r].display, summary_cell(grp, unless_cached(stage_quantity("select/bin_generation")), 1, 2),
                          summary_cell(grp, unless_cached(stage_quantity("select/neighbour_id")), 1, 2),
                          summary_cell(grp, patch_drop_seconds, 1, 2),
                          summary_cell(grp, unless_cached(stage_quantity("select")), 1, 2),
                          summary_cell(grp, stage_quantity("embed"), 1, 2),
                          summary_cell(grp, unless_cached(pipeline_seconds), 1, 2),
                          summary_cell(grp, stage_quantity("train"), 1, 1),
                          paper_runtime(gc.dataset, gc.ratio, paper_row),
                          summary_cell(grp, metric_quantity("top1"), 100, 2, "–"),
                          paper_cell(find_paper_number("Table 4", gc.dataset, gc.ratio, paper_row, "top1"))});
      }
      t.notes.push_back(cpu_note(in_column));
      if (const std::string n = load_note(in_column); !n.empty()) t.notes.push_back(n);
      if (const std::string n = cache_note(in_column); !n.empty()) t.notes.push_back(n);
      if (std::any_of(in_column.begin(), in_column.end(),
                      [](const CellResult* c) { return c->metric("embed_from_cache").value_or(0) > 0; }))
        t.notes.push_back("Some cells read their embeddings from the cache (embed_from_cache = 1): their embed time "
                          "is a file read, not the extractor's training and forward pass.");
      t.notes.push_back("The paper's totals include work its columns do not name (ADQ's scoring, BGFDQ's embedding "
                        "and NCS); ours are the sum of what is recorded.");
      for (const auto& n : deviation_notes(in_column)) t.notes.push_back(n);
      f.tables.push_back(std::move(t));
      std::vector<PairedColumn> pc = {g.paired_columns(column_title)[col]};
      ReportTable p = paired_table(fmt::format("Experiment {}, {}: paired differences in selection time", ex,
                                               column_title(gc)),
                                   pc, unless_cached(stage_quantity("select")), 1, 2, "seconds of the select stage");
      if (!p.rows.empty()) f.tables.push_back(std::move(p));
    }
  }
  if (f.tables.empty()) {
    ReportTable t;
    t.title = "The paper's numbers (no recorded cells with selection sub-stage timings on real data yet)";
    t.caption = "BGFDQ paper, Table 4: CIFAR-10 at 20%, one RTX 4070 SUPER; our columns stay 'not run' until an "
                "experiment (experiments/cpu/runtime.yaml) records these stages.";
    t.header = {"method", "ours", "paper bin gen s", "paper NI s", "paper patch drop s", "paper total s",
                "paper top-1"};
    for (const char* row : {"DQ", "ADQ", "BGFDQ w/o SPD", "BGFDQ w/ SPD"}) {
      std::vector<std::string> cells = {row, "not run"};
      for (const char* col : {"bin_gen_s", "neighbour_id_s", "patch_drop_s", "total_s", "top1"})
        cells.push_back(paper_cell(find_paper_number("Table 4", "cifar10", 0.2, row, col), col == std::string("top1")));
      t.rows.push_back(cells);
    }
    f.tables.push_back(std::move(t));
  }
  return f;
}

// One line per dataset of an experiment that runs several (e.g. experiments/scale/zoo_scale.yaml, one
// per distribution of the neighbour-search zoo): each method's selection time and recall@k side by
// side, and with two methods the second row's speed-up (the first row's mean time over its own; over
// the seeds each has, so compare it with one seed per cell, as zoo_scale runs).
ReportTable scale_summary(const std::string& ex, const MethodGrid& g) {
  ReportTable t;
  t.title = fmt::format("Experiment {}: every dataset at a glance", ex);
  t.caption = fmt::format("Selection seconds (DONE cells, mean over seeds) and the neighbour search's recall@k per "
                          "dataset; the per-dataset tables below have memory and coverage. Experiment `{}`.",
                          ex);
  const Quantity select = unless_cached(stage_quantity("select")), recall = metric_quantity("diag_knn_recall_at_k_mean");
  // A recall column only for the rows whose cells search neighbours.
  std::vector<bool> has_recall(g.rows.size(), false);
  for (const auto& [key, grp] : g.groups)
    if (!grp.values(recall).empty()) has_recall[key.first] = true;
  t.header = {"dataset"};
  for (size_t r = 0; r < g.rows.size(); ++r) {
    t.header.push_back(g.rows[r].display + " select s");
    if (has_recall[r]) t.header.push_back(g.rows[r].display + " recall@k");
  }
  const bool two = g.rows.size() == 2;
  if (two) t.header.push_back(g.rows[1].display + " speed-up over " + g.rows[0].display);
  for (size_t col = 0; col < g.columns.size(); ++col) {
    std::vector<std::string> line;
    std::string dataset;
    for (size_t r = 0; r < g.rows.size() && dataset.empty(); ++r)
      if (!g.at(r, col).cells.empty()) dataset = g.at(r, col).cells.front()->dataset;
    line.push_back(fmt::format("`{}` {}", dataset, ratio_text(g.columns[col].ratio)));
    std::vector<std::optional<double>> means;
    for (size_t r = 0; r < g.rows.size(); ++r) {
      const CellGroup& grp = g.at(r, col);
      const Summary s = summarize(grp.values(select));
      means.push_back(s.n > 0 ? std::optional<double>(s.mean) : std::nullopt);
      line.push_back(summary_cell(grp, select, 1, 1));
      if (has_recall[r]) line.push_back(grp.values(recall).empty() ? "–" : summary_cell(grp, recall, 1, 4));
    }
    // The second row's speed-up: the first row's selection time over its own.
    if (two) line.push_back(means[0] && means[1] && *means[1] > 0 ? fmt::format("{:.2f}x", *means[0] / *means[1]) : "–");
    t.rows.push_back(std::move(line));
  }
  t.notes.push_back(spec_note(g));
  t.notes.push_back("Wall-clock seconds of each cell's select stage, each method with the threads it uses: DQ's "
                    "greedy bin generation is sequential, BGFDQ's neighbour search runs on every thread. One run per "
                    "cell here (n=1): the benchmarks in bench/ time the same contenders alternately in one process.");
  t.notes.push_back(cpu_note([&] {
    std::vector<const CellResult*> all;
    for (const auto& [key, grp] : g.groups) all.insert(all.end(), grp.cells.begin(), grp.cells.end());
    return all;
  }()));
  return t;
}

TableFile build_scale_table(const ResultSet& rs) {
  TableFile f;
  f.id = "table_scale";
  f.title = "Scale: selection at Fakeddit size (200,000 samples per class), and the neighbour-search zoo";
  f.intro =
      "What happens to each method when a class holds 200,000 samples, as in the paper's Fakeddit row: the "
      "status of each cell (OOM with the bytes it asked for, against the cell's memory budget), the peak resident "
      "memory over its stages, and the recorded times. The paper reports OOM for DQ, DQAS and ADQ on Fakeddit and "
      "accuracies for Random and BGFDQ (Table 1). Experiments over several datasets (the neighbour-search zoo: "
      "one class of each distribution, and real embeddings) open with a line per dataset.";
  for (const auto& ex : rs.experiments()) {
    std::vector<const CellResult*> cells;
    for (const auto& c : rs.cells)
      if (c.experiment == ex && (synthetic(c) || paper_dataset(c) == "fakeddit")) cells.push_back(&c);
    if (cells.empty()) continue;
    const MethodGrid g = make_grid(cells, main_row_label);
    std::set<std::string> names;
    for (const CellResult* c : cells) names.insert(c->dataset);
    if (names.size() > 1) f.tables.push_back(scale_summary(ex, g));
    for (size_t col = 0; col < g.columns.size(); ++col) {
      const GridColumn& gc = g.columns[col];
      std::vector<const CellResult*> in_column;
      for (size_t r = 0; r < g.rows.size(); ++r)
        for (const CellResult* c : g.at(r, col).cells) in_column.push_back(c);
      const CellResult& any = *in_column.front();
      const int64_t classes = class_count(any);
      const auto n = samples_per_class(any);
      const std::string shape = n ? fmt::format("{} classes, {} per class", classes, *n) : fmt::format("{} classes", classes);
      ReportTable t;
      t.title = fmt::format("Experiment {}, {}", ex, column_title(gc));
      t.caption = fmt::format(
          "Dataset `{}` ({}). Times in seconds; memory in binary units. Experiment `{}`.",
          any.dataset, shape, ex);
      t.header = {"method", "status", "memory asked (OOM)", "budget", "peak RSS", "select s", "bin gen s", "NI s",
                  "recall@k", "R(S)", "Γ(S)", "paper (Fakeddit 1%)"};
      for (size_t r = 0; r < g.rows.size(); ++r) {
        const CellGroup& grp = g.at(r, col);
        if (grp.cells.empty()) continue;
        std::string status = grp.done() ? fmt::format("DONE ×{}", grp.done()) : "";
        double asked = 0, budget = 0;
        int64_t rss = 0;
        std::map<std::string, int> other;
        for (const CellResult* c : grp.cells) {
          if (!c->done()) other[c->status] += 1;
          asked = std::max(asked, c->metric("oom_requested_bytes").value_or(0));
          budget = std::max(budget, c->memory_budget_bytes);
          for (const auto& [name, st] : c->stages) rss = std::max(rss, st.peak_rss_bytes);
        }
        for (const auto& [s, n] : other) status += (status.empty() ? "" : ", ") + fmt::format("{} ×{}", s, n);
        CellGroup finished;  // the status column names the others; measurements come from DONE cells
        for (const CellResult* c : grp.cells)
          if (c->done()) finished.cells.push_back(c);
        auto measured = [&](const Quantity& q, int digits) {
          return finished.cells.empty() ? std::string("–") : summary_cell(finished, q, 1, digits);
        };
        // A cell whose neighbours stayed below its recall target says so next to its recall.
        int64_t below = 0;
        double target = 0;
        for (const CellResult* c : finished.cells)
          if (c->metric("diag_knn_recall_below_target_mean").value_or(0) > 0) {
            ++below;
            target = c->metric("diag_knn_recall_target_mean").value_or(0);
          }
        std::string recall = measured(metric_quantity("diag_knn_recall_at_k_mean"), 4);
        if (below > 0) recall += fmt::format(" (below target {:g} in {} cell{})", target, below, below > 1 ? "s" : "");
        const auto paper =
            find_paper_number("Table 1", "fakeddit", 0.01, paper_row_of(g.rows[r].label), "top1");
        // The paper's Fakeddit row beside Fakeddit-shaped cells only, not beside other datasets.
        std::string paper_text = paper_dataset(any) == "fakeddit" ? paper_cell(paper) : std::string("–");
        if (paper && !*paper->status && paper_dataset(any) == "fakeddit") paper_text += " (top-1)";
        t.rows.push_back({g.rows[r].display, status, asked > 0 ? format_bytes(static_cast<uint64_t>(asked)) : "–",
                          budget > 0 ? format_bytes(static_cast<uint64_t>(budget)) : "–",
                          rss > 0 ? format_bytes(static_cast<uint64_t>(rss)) : "–",
                          measured(unless_cached(stage_quantity("select")), 1),
                          measured(unless_cached(stage_quantity("select/bin_generation")), 1),
                          measured(unless_cached(stage_quantity("select/neighbour_id")), 1),
                          recall,
                          measured(metric_quantity("coverage_mean"), 2), measured(metric_quantity("redundancy_mean"), 3),
                          paper_text});
      }
      t.notes.push_back(
          "OOM cells stopped at their first declared allocation over the budget (the dense M x M similarity of the "
          "DQ family); their peak RSS and times are those of the stages they finished before stopping.");
      t.notes.push_back(
          "recall@k: the approximate neighbour search's recall against exact search on a sample; BGFDQ raises its "
          "search (or searches exactly) until it meets its recall_target, and a cell that ends below it is marked.");
      if (std::any_of(in_column.begin(), in_column.end(), [](const CellResult* c) {
            return c->method_name == "dq" && c->method_param("mode") != "naive";
          }))
        t.notes.push_back("The paper's OOM is the DQ reference code's dense bin generation (our mode=naive, and memo); "
                          "mode=streaming is ours, with the same picks in O(M d) memory.");
      t.notes.push_back(cpu_note(in_column));
      if (const std::string n = cache_note(in_column); !n.empty()) t.notes.push_back(n);
      for (const auto& n : deviation_notes(in_column)) t.notes.push_back(n);
      f.tables.push_back(std::move(t));
    }
  }
  f.empty_message = "No recorded cells on synthetic embeddings or Fakeddit yet (experiments/scale/).";
  return f;
}

}  // namespace dq
