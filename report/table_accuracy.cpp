// Accuracy tables: Table 1 (main), Table 5 (selection ablation) and cross-architecture.
#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "models/models.h"
#include "report/cell_groups.h"
#include "report/labels.h"
#include "report/paper_numbers.h"
#include "report/paper_tables.h"

namespace dq {

namespace {

const std::vector<std::string> kMainRows = {"Random", "DQ", "DQAS-approx", "ADQ", "BGFDQ w/o SPD", "BGFDQ w/ SPD"};
const std::vector<std::string> kAblationRows = {"RS", "BG+RS", "NI+NCS"};

std::vector<const CellResult*> of_experiment(const ResultSet& rs, const std::string& experiment,
                                             const std::function<bool(const CellResult&)>& keep) {
  std::vector<const CellResult*> out;
  for (const auto& c : rs.cells)
    if (c.experiment == experiment && keep(c)) out.push_back(&c);
  return out;
}

std::string column_name(const GridColumn& c) {
  std::string s = dataset_display(c.dataset) + " " + ratio_text(c.ratio);
  if (!c.extra.empty()) s += " → " + c.extra;
  return s;
}

std::string experiment_caption(const std::vector<const CellResult*>& cells, const std::string& what) {
  const CellResult& c = *cells.front();
  std::vector<std::string> dbs;
  for (const CellResult* x : cells)
    if (std::find(dbs.begin(), dbs.end(), x->db) == dbs.end()) dbs.push_back(x->db);
  std::string db_list;
  for (const auto& d : dbs) db_list += (db_list.empty() ? "" : ", ") + d;
  return fmt::format(
      "{} Experiment `{}` ({}). Target: {}. Extractor: {}. Budget protocol: {}; the steps and the "
      "storage each row's cells actually used are in its 'steps, storage' column.",
      what, c.experiment, db_list, recipe_text(c), extractor_text(c), budget_protocol_text(c.train));
}

// The baseline row of an accuracy table (TableOptions::baseline), or why there is none.
struct Baseline {
  std::optional<size_t> row;
  std::string why;
  std::string label;  // the row's display, or the name asked for
};

Baseline find_baseline(const MethodGrid& g, const TableOptions& o) {
  Baseline b;
  b.row = g.baseline_row(o.baseline, b.why);
  b.label = b.row ? g.rows[*b.row].display : o.baseline;
  return b;
}

// The columns beside each grid column's top-1 (and paper number): the improvement over the baseline
// and the budget the cells used.
std::vector<std::string> beside_header(const Baseline& b) {
  return {fmt::format("vs {} (pp)", b.label), "steps, storage"};
}

std::vector<std::string> beside_cells(const MethodGrid& g, size_t r, size_t c, const Baseline& b) {
  std::string vs = "–";
  if (b.row && r == *b.row)
    vs = g.at(r, c).cells.empty() ? "–" : "baseline";
  else if (b.row)
    vs = improvement_cell(g.at(r, c), g.at(*b.row, c), metric_quantity("top1"), 100, 2);
  return {vs, g.at(r, c).cells.empty() ? "–" : budget_cell(g.at(r, c))};
}

// What the improvement column holds, or why it is empty.
std::string baseline_note(const Baseline& b, const TableOptions& o) {
  if (!b.row)
    return fmt::format("The 'vs {}' column is empty: {} (`--baseline` names another row by its label).", o.baseline,
                       b.why);
  return fmt::format(
      "'vs {}': top-1 minus {}'s at the same seed, mean over the shared seeds [95% Student-t interval] "
      "(n seeds), in percentage points; per seed in the improvement table below.",
      b.label, b.label);
}

// The per-seed improvement table of an experiment: when some row pairs with the baseline, or, without a
// baseline, to say so.
void add_improvement_table(TableFile& f, const std::string& experiment, const MethodGrid& g, const Baseline& base,
                           const std::function<std::string(const GridColumn&)>& name) {
  ReportTable t =
      improvement_table(fmt::format("Experiment {}: improvement over {} in top-1, per seed", experiment, base.label), g,
                        base.row, base.why, name, metric_quantity("top1"), 100, 2, "top-1 percentage points");
  if (!t.rows.empty() || !base.row) f.tables.push_back(std::move(t));
}

bool main_table_cell(const CellResult& c) {
  const std::string key = paper_dataset(c);
  const bool paper_dataset_key = key == "cifar10" || key == "cifar100" || key == "imagenet1k" || key == "fakeddit";
  if (c.train.empty() && !paper_dataset_key) return false;
  if (cross_architecture_target(c)) return false;  // the cross-architecture table's
  if (c.method_name != "random" && c.method_params.count("theta") && theta_of(c) == 0 && !spd_on(c)) return false;
  return true;
}

ReportTable paper_only_table(const std::string& source, const std::vector<std::string>& rows,
                             const std::vector<GridColumn>& columns, const std::string& column_key,
                             const std::function<std::string(const GridColumn&)>& name) {
  ReportTable t;
  t.title = "The paper's numbers (no recorded cells yet)";
  t.caption = fmt::format("BGFDQ paper, {}; our columns stay 'not run' until an experiment records these cells.",
                          source);
  t.header = {"method"};
  for (const auto& c : columns) {
    t.header.push_back(name(c) + " ours");
    t.header.push_back("paper");
  }
  for (const auto& r : rows) {
    std::vector<std::string> row = {r};
    for (const auto& c : columns) {
      row.push_back("not run");
      row.push_back(paper_cell(find_paper_number(source, c.dataset, c.ratio, paper_row_of(r), column_key)));
    }
    t.rows.push_back(row);
  }
  return t;
}

// Mean of a metric over a group's DONE cells that have it.
std::optional<double> group_mean(const CellGroup& g, const std::string& metric) {
  const auto v = g.values(metric_quantity(metric));
  if (v.empty()) return std::nullopt;
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

// What the methods with their own rules did here: SPD's realised drop and sample ratio per column
// (against the paper's about 40% drop), how NCS and SPD share the work, and ADQ's single view.
std::vector<std::string> method_notes(const MethodGrid& g) {
  std::vector<std::string> notes;
  bool any_spd = false, any_adq = false;
  for (size_t r = 0; r < g.rows.size(); ++r) {
    const CellResult* example = g.rows[r].example;
    if (!example) continue;
    any_adq = any_adq || example->method_name == "adq";
    if (!spd_on(*example)) continue;
    any_spd = true;
    std::string per_column;
    double largest = 0;
    for (size_t c = 0; c < g.columns.size(); ++c) {
      const CellGroup& grp = g.at(r, c);
      const auto drop = group_mean(grp, "spd_mean_drop"), samples = group_mean(grp, "sample_ratio");
      if (!drop || !samples) continue;
      largest = std::max(largest, *drop);
      per_column += fmt::format("{}{}: mean patch drop {:.1f}%, {:.1f}% of the training images stored",
                                per_column.empty() ? "" : "; ", column_name(g.columns[c]), 100 * *drop, 100 * *samples);
    }
    if (!per_column.empty())
      notes.push_back(fmt::format("{}: what SPD did here (means over the DONE cells; spd_mean_drop over the stored "
                                  "images, sample_ratio): {}. The paper's SPD drops about 40% of the patches on "
                                  "average{}.",
                                  g.rows[r].display, per_column,
                                  largest < 0.2 ? "; a drop this small stores nearly whole images, so the row "
                                                  "compares selections more than patch dropping"
                                                : ""));
  }
  if (any_spd)
    notes.push_back("With SPD on, NCS orders the whole class (a candidate order up to 20·ρ·M_c long) and SPD fills "
                    "the storage budget ρ·M_c along that order, each candidate at its own theta*; the stored prefix is "
                    "what is trained on and what the selection's diagnostics and coverage describe.");
  if (any_adq)
    notes.push_back("ADQ: the diversity score uses one view per sample (the cell's embedding through a random head); "
                    "the released code embeds two augmented views with a pretrained ResNet-18 "
                    "(methods/docs/dq_family.md).");
  return notes;
}

using PaperLookup = std::function<std::optional<PaperNumber>(const MethodGrid::Row&, const GridColumn&)>;

// True when the paper has a number for some row (of `rows`, or of the grid's) in some column.
bool any_paper_number(const MethodGrid& g, const PaperLookup& paper, const std::vector<std::string>& rows = {}) {
  for (const auto& c : g.columns) {
    for (const auto& r : g.rows)
      if (paper(r, c)) return true;
    for (const auto& label : rows)
      if (paper(MethodGrid::Row{"", label, label, nullptr}, c)) return true;
  }
  return false;
}

// One experiment's top-1 grid with the paper's number beside each cell (no paper columns when the
// paper has none for these columns, e.g. Fashion-MNIST), its footnotes, and its paired differences:
// appended to `f`.
void add_accuracy_tables(TableFile& f, const std::string& experiment, const std::vector<const CellResult*>& cells,
                         const MethodGrid& g, const std::string& done_without_top1, const PaperLookup& paper,
                         const TableOptions& options) {
  const bool with_paper = any_paper_number(g, paper);
  const Baseline base = find_baseline(g, options);
  ReportTable t;
  t.title = fmt::format("Experiment {}", experiment);
  t.caption = experiment_caption(cells, "Top-1 (%).");
  t.header = {"method"};
  for (const auto& c : g.columns) {
    t.header.push_back(column_name(c));
    if (with_paper) t.header.push_back("paper");
    for (auto& h : beside_header(base)) t.header.push_back(std::move(h));
  }
  for (size_t r = 0; r < g.rows.size(); ++r) {
    std::vector<std::string> row = {g.rows[r].display};
    for (size_t c = 0; c < g.columns.size(); ++c) {
      row.push_back(summary_cell(g.at(r, c), metric_quantity("top1"), 100, 2, done_without_top1));
      if (with_paper) row.push_back(paper_cell(paper(g.rows[r], g.columns[c])));
      for (auto& cell : beside_cells(g, r, c, base)) row.push_back(std::move(cell));
    }
    t.rows.push_back(row);
  }
  t.notes = deviation_notes(cells);
  for (const auto& n : method_notes(g)) t.notes.push_back(n);
  t.notes.push_back(spec_note(g));
  t.notes.push_back(baseline_note(base, options));
  f.tables.push_back(std::move(t));
  ReportTable p = paired_table(fmt::format("Experiment {}: paired differences in top-1", experiment),
                               g.paired_columns(column_name), metric_quantity("top1"), 100, 2,
                               "top-1 percentage points");
  if (!p.rows.empty()) f.tables.push_back(std::move(p));
  add_improvement_table(f, experiment, g, base, column_name);
}

}  // namespace

TableFile build_main_table(const ResultSet& rs, const TableOptions& options) {
  TableFile f;
  f.id = "table1_main";
  f.title = "Table 1: main results, top-1 accuracy (%)";
  f.intro =
      "Ours: mean ± sample std over seeds (n = seeds), last-epoch top-1 on the full test split; cells that did not "
      "finish are shown by status and never averaged in. Paper: BGFDQ Table 1 (ResNet-18 extractor and target).";
  for (const auto& ex : rs.experiments()) {
    const auto cells = of_experiment(rs, ex, main_table_cell);
    // A selection-only experiment belongs here only for its OOM cells (the paper's Fakeddit row);
    // otherwise its coverage and times are in the other tables.
    const bool informative = std::any_of(cells.begin(), cells.end(), [](const CellResult* c) {
      return !c->train.empty() || c->status == "OOM";
    });
    if (cells.empty() || !informative) continue;
    MethodGrid g = make_grid(cells, main_row_label);
    const PaperLookup paper = [](const MethodGrid::Row& r, const GridColumn& c) {
      return find_paper_number("Table 1", c.dataset, c.ratio, paper_row_of(r.label), "top1");
    };
    // The paper's rows not run are listed where the paper has numbers to compare with.
    if (any_paper_number(g, paper, kMainRows)) g.add_missing_rows(kMainRows);
    add_accuracy_tables(f, ex, cells, g, "selection only", paper, options);
  }
  if (f.tables.empty())
    f.tables.push_back(paper_only_table("Table 1", kMainRows,
                                        {{"cifar10", 0.2, ""}, {"cifar100", 0.2, ""}, {"cifar100", 0.1, ""},
                                         {"imagenet1k", 0.2, ""}, {"fakeddit", 0.01, ""}},
                                        "top1", column_name));
  return f;
}

TableFile build_ablation_table(const ResultSet& rs, const TableOptions& options) {
  TableFile f;
  f.id = "table5_selection_ablation";
  f.title = "Table 5: selection strategy without patch dropping (CIFAR-10)";
  f.intro =
      "RS = random, BG+RS = DQ's bins with uniform sampling inside them (dq, theta = 0), NI+NCS = neighbour "
      "identification with neighbour-aware selection (bgfdq, theta = 0). Paper columns 5K/10K/15K are 10/20/30% of "
      "CIFAR-10's 50,000 training images. Coverage R(S) (lower is better) and redundancy Γ(S) (higher is better) "
      "are per class in the extractor's embedding space, averaged over classes.";
  auto column_label = [&](const GridColumn& c) { return column_name(c); };
  for (const auto& ex : rs.experiments()) {
    const auto cells = of_experiment(rs, ex, [](const CellResult& c) { return ablation_row_label(c).has_value(); });
    const bool has_method = std::any_of(cells.begin(), cells.end(), [](const CellResult* c) {
      const auto l = ablation_row_label(*c);
      return l && *l != "RS";
    });
    if (cells.empty() || !has_method) continue;
    MethodGrid g = make_grid(cells, [](const CellResult& c) { return *ablation_row_label(c); });
    g.add_missing_rows(kAblationRows);
    const Baseline base = find_baseline(g, options);
    ReportTable t;
    t.title = fmt::format("Experiment {}: top-1 (%)", ex);
    t.caption = experiment_caption(cells, "Top-1 (%).");
    t.header = {"strategy"};
    for (const auto& c : g.columns) {
      t.header.push_back(column_label(c));
      t.header.push_back("paper");
      for (auto& h : beside_header(base)) t.header.push_back(std::move(h));
    }
    ReportTable q;
    q.title = fmt::format("Experiment {}: coverage R(S) ↓ and redundancy Γ(S) ↑", ex);
    q.caption = "Squared Euclidean distances in the extractor's embedding space, mean over classes.";
    q.header = {"strategy"};
    for (const auto& c : g.columns) {
      q.header.push_back(column_label(c) + " R(S)");
      q.header.push_back("Γ(S)");
    }
    bool any_top1 = false;
    for (size_t r = 0; r < g.rows.size(); ++r) {
      std::vector<std::string> row = {g.rows[r].display}, qrow = {g.rows[r].display};
      for (size_t c = 0; c < g.columns.size(); ++c) {
        const auto& grp = g.at(r, c);
        any_top1 |= !grp.values(metric_quantity("top1")).empty();
        row.push_back(summary_cell(grp, metric_quantity("top1"), 100, 2, "selection only"));
        row.push_back(paper_cell(find_paper_number("Table 5", g.columns[c].dataset, g.columns[c].ratio,
                                                   g.rows[r].label, "top1")));
        for (auto& cell : beside_cells(g, r, c, base)) row.push_back(std::move(cell));
        qrow.push_back(summary_cell(grp, metric_quantity("coverage_mean"), 1, 3));
        qrow.push_back(summary_cell(grp, metric_quantity("redundancy_mean"), 1, 3));
      }
      t.rows.push_back(row);
      q.rows.push_back(qrow);
    }
    t.notes = deviation_notes(cells);
    t.notes.push_back(spec_note(g));
    t.notes.push_back(baseline_note(base, options));
    f.tables.push_back(std::move(t));
    f.tables.push_back(std::move(q));
    const auto columns = g.paired_columns(column_label);
    if (any_top1) {
      ReportTable p = paired_table(fmt::format("Experiment {}: paired differences in top-1", ex), columns,
                                   metric_quantity("top1"), 100, 2, "top-1 percentage points");
      if (!p.rows.empty()) f.tables.push_back(std::move(p));
      add_improvement_table(f, ex, g, base, column_label);
    }
    ReportTable pc = paired_table(fmt::format("Experiment {}: paired differences in coverage R(S)", ex), columns,
                                  metric_quantity("coverage_mean"), 1, 3, "squared distance (negative is better)");
    if (!pc.rows.empty()) f.tables.push_back(std::move(pc));
    ReportTable pr = paired_table(fmt::format("Experiment {}: paired differences in redundancy Γ(S)", ex), columns,
                                  metric_quantity("redundancy_mean"), 1, 3, "squared distance (positive is better)");
    if (!pr.rows.empty()) f.tables.push_back(std::move(pr));
  }
  if (f.tables.empty())
    f.tables.push_back(paper_only_table("Table 5", kAblationRows,
                                        {{"cifar10", 0.1, ""}, {"cifar10", 0.2, ""}, {"cifar10", 0.3, ""}}, "top1",
                                        column_label));
  return f;
}

TableFile build_cross_arch_table(const ResultSet& rs, const TableOptions& options) {
  TableFile f;
  f.id = "table_cross_architecture";
  f.title = "Cross-architecture: coresets selected with one network, trained on another (top-1 %)";
  f.intro =
      "Cells whose target network is ResNet-50 or the ViT (the paper's cross-architecture networks; Table 1 has "
      "the ResNet-18 targets). Columns name the dataset, ratio and target network; the extractor that selected "
      "the coresets is given per experiment. The paper's only number we know: CIFAR-100 on ViT, BGFDQ 35.7 vs "
      "ADQ 30.9 (ratio not stated), shown beside any CIFAR-100 ViT column.";
  for (const auto& ex : rs.experiments()) {
    const auto cells = of_experiment(rs, ex, cross_architecture_target);
    if (cells.empty()) continue;
    const MethodGrid g = make_grid(cells, main_row_label, target_arch);
    add_accuracy_tables(
        f, ex, cells, g, "–",
        [](const MethodGrid::Row& r, const GridColumn& c) {
          std::optional<PaperNumber> p;
          if (c.extra.find("vit") != std::string::npos)
            p = find_paper_number("text (cross-architecture)", c.dataset, 0, paper_row_of(r.label), "vit");
          return p;
        },
        options);
  }
  if (f.tables.empty())
    f.tables.push_back(paper_only_table("text (cross-architecture)", {"ADQ", "BGFDQ w/ SPD"},
                                        {{"cifar100", 0, "vit"}}, "vit", [](const GridColumn& c) {
                                          return dataset_display(c.dataset) + " → ViT";
                                        }));
  return f;
}

std::vector<TableFile> build_paper_tables(const ResultSet& rs, const TableOptions& options) {
  return {build_main_table(rs, options), build_ablation_table(rs, options),
          build_runtime_table(rs),       build_scale_table(rs),
          build_sweeps_table(rs),        build_cross_arch_table(rs, options)};
}

}  // namespace dq
