// Sweep tables: one per group of cells that differ only in k, alpha or lambda_scale.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "report/cell_groups.h"
#include "report/labels.h"
#include "report/paper_tables.h"

namespace dq {

namespace {

// lambda_scale without re-running: every SPD cell records, for multiples m of the threshold it used,
// the mean theta* its candidates would get at m times that threshold (spd_mean_drop_at_threshold_x<m>,
// patching/patch_stage). One table per (experiment, dataset, ratio) of bgfdq(spd=on) cells.
void add_spd_threshold_tables(const ResultSet& rs, TableFile& f) {
  const std::string prefix = "spd_mean_drop_at_threshold_x";
  std::map<std::string, CellGroup> groups;  // (experiment, dataset, ratio, lambda_scale) -> cells
  std::map<std::string, std::set<double>> multiples;
  for (const auto& c : rs.cells) {
    if (!c.done() || c.method_param("spd") != "on") continue;
    const std::string key = fmt::format("{}\x1f{}\x1f{:.9g}\x1f{}", c.experiment, c.dataset, c.ratio,
                                        c.method_param("lambda_scale"));
    for (const auto& [name, value] : c.metrics)
      if (name.starts_with(prefix)) multiples[key].insert(std::atof(name.substr(prefix.size()).c_str()));
    if (multiples.count(key)) groups[key].cells.push_back(&c);
  }
  for (const auto& [key, g] : groups) {
    const CellResult& c = *g.cells.front();
    const double used = std::atof(c.method_param("lambda_scale").c_str());
    ReportTable t;
    t.title = fmt::format("lambda_scale over bgfdq w/ SPD, read off the recorded offsets: {} {} (experiment {})",
                          dataset_display(paper_dataset(c)), ratio_text(c.ratio), c.experiment);
    t.caption = fmt::format(
        "Mean drop ratio θ* (% of patches) that the candidates SPD evaluated would get at each lambda_scale (the run "
        "used {:g}), from the semantic offsets recorded per candidate; no re-run. At another "
        "threshold the accumulation to the storage budget would also pick a different number of candidates, so "
        "this reads off the drop, not the accuracy. Target: {}. Extractor: {}.",
        used, recipe_text(c), extractor_text(c));
    t.header = {"lambda_scale", "mean θ* %"};
    for (const double m : multiples.at(key)) {
      const std::string metric = fmt::format("{}{:g}", prefix, m);
      t.rows.push_back({fmt::format("{:g}", m * used), summary_cell(g, metric_quantity(metric), 100, 1)});
    }
    t.notes = deviation_notes(g.cells);
    f.tables.push_back(std::move(t));
  }
}

}  // namespace

TableFile build_sweeps_table(const ResultSet& rs) {
  TableFile f;
  f.id = "table_sweeps";
  f.title = "Sweeps: k, alpha and lambda_scale";
  f.intro =
      "The knobs users ask about, one at a time, everything else fixed. R(S) coverage (lower is better), Γ(S) "
      "redundancy (higher is better), and the mean distance from a pick to its nearest other pick (informative "
      "where duplicates make Γ zero), per class in embedding space and averaged over classes. The paper publishes "
      "no sweep numbers: it uses K = 20 and calls K not sensitive.";
  for (const char* knob : {"k", "alpha", "lambda_scale"}) {
    // (experiment, dataset, ratio, method name, the other parameters) -> knob value -> cells
    std::map<std::string, std::map<double, CellGroup>> sweeps;
    std::map<std::string, const CellResult*> example;
    for (const auto& c : rs.cells) {
      if (!c.method_params.count(knob)) continue;
      std::string others;
      for (const auto& [k, v] : c.method_params)
        if (k != knob) others += (others.empty() ? "" : ",") + k + "=" + v;
      const std::string key =
          fmt::format("{}\x1f{}\x1f{:.9g}\x1f{}({})", c.experiment, c.dataset, c.ratio, c.method_name, others);
      sweeps[key][std::atof(c.method_params.at(knob).c_str())].cells.push_back(&c);
      example.emplace(key, &c);
    }
    for (const auto& [key, by_value] : sweeps) {
      if (by_value.size() < 2) continue;
      const CellResult& c = *example.at(key);
      std::vector<const CellResult*> all;
      for (const auto& [v, g] : by_value) all.insert(all.end(), g.cells.begin(), g.cells.end());
      ReportTable t;
      t.title = fmt::format("{} over {}: {} {} (experiment {})", knob, c.method_name, dataset_display(paper_dataset(c)),
                            ratio_text(c.ratio), c.experiment);
      std::string fixed;
      for (const auto& [k, v] : c.method_params)
        if (k != knob) fixed += (fixed.empty() ? "" : ", ") + k + "=" + v;
      t.caption = fmt::format("Fixed: {}. Target: {}. Extractor: {}.", fixed, recipe_text(c), extractor_text(c));
      t.header = {knob, "top-1 %", "R(S)", "Γ(S)", "nearest-pick distance", "storage %", "select s"};
      PairedColumn pc{fmt::format("{} {}", dataset_display(paper_dataset(c)), ratio_text(c.ratio)), {}};
      for (const auto& [value, g] : by_value) {
        t.rows.push_back({fmt::format("{:g}", value), summary_cell(g, metric_quantity("top1"), 100, 2, "–"),
                          summary_cell(g, metric_quantity("coverage_mean"), 1, 3),
                          summary_cell(g, metric_quantity("redundancy_mean"), 1, 3),
                          summary_cell(g, metric_quantity("selected_nn_mean"), 1, 3),
                          summary_cell(g, metric_quantity("storage_ratio"), 100, 2),
                          summary_cell(g, unless_cached(stage_quantity("select")), 1, 2)});
        pc.rows.push_back({fmt::format("{}={:g}", knob, value), g});
      }
      t.notes = deviation_notes(all);
      const std::string title = t.title;
      f.tables.push_back(std::move(t));
      const bool trained = std::any_of(all.begin(), all.end(), [](const CellResult* x) { return x->metric("top1"); });
      ReportTable p = trained ? paired_table(title + ": paired differences in top-1", {pc}, metric_quantity("top1"),
                                             100, 2, "top-1 percentage points")
                              : paired_table(title + ": paired differences in coverage R(S)", {pc},
                                             metric_quantity("coverage_mean"), 1, 3,
                                             "squared distance (negative is better)");
      if (!p.rows.empty()) f.tables.push_back(std::move(p));
    }
  }
  add_spd_threshold_tables(rs, f);
  f.empty_message =
      "No recorded sweeps yet: no group of cells that differ only in k, alpha or lambda_scale "
      "(experiments/cpu/sweeps.yaml records them).";
  return f;
}

}  // namespace dq
