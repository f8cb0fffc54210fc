#include "report/figures.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "report/cell_groups.h"
#include "report/labels.h"
#include "report/paper_numbers.h"
#include "core/stats.h"
#include "report/svg_plot.h"

namespace dq {

std::string file_slug(const std::string& text) {
  std::string out;
  for (char ch : text) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
    out += ok ? ch : (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : '_';
  }
  return out;
}

namespace {

// Display labels for every method spec in the set, variants told apart by their parameters.
std::map<std::string, std::string> spec_labels(const std::vector<const CellResult*>& cells) {
  std::map<std::string, const CellResult*> first;
  for (const CellResult* c : cells) first.emplace(c->method, c);
  std::vector<std::string> labels;
  std::vector<const CellResult*> examples;
  for (const auto& [spec, c] : first) {
    labels.push_back(main_row_label(*c));
    examples.push_back(c);
  }
  const auto shown = distinguish_variants(labels, examples);
  std::map<std::string, std::string> out;
  size_t i = 0;
  for (const auto& [spec, c] : first) out[spec] = shown[i++];
  return out;
}

// Samples per class of the cell's dataset: the dataset's own parameter, or the training set over
// the classes.
double per_class(const CellResult& c) {
  if (const auto n = samples_per_class(c)) return static_cast<double>(*n);
  const int64_t classes = class_count(c);
  if (auto n = c.metric("train_samples"); n && classes > 0) return *n / static_cast<double>(classes);
  return 0;
}

Figure selection_time(const ResultSet& rs) {
  // Every method and mode, BGFDQ at its default k and alpha (sweep variants would crowd the legend);
  // cells that read their bins or KNN graph from the cache timed a file read and are left out.
  std::vector<const CellResult*> cells;
  for (const auto& c : rs.cells)
    if (((c.done() && c.stage_wall("select") && !reused_cached_work(c)) || c.status == "OOM") &&
        (c.method_name != "bgfdq" || (c.method_param_is_default("k") && c.method_param_is_default("alpha"))))
      cells.push_back(&c);
  const auto labels = spec_labels(cells);
  // label -> per-class size -> times (all ratios pooled); OOM positions
  std::map<std::string, std::map<double, std::vector<double>>> times;
  std::map<std::string, std::set<double>> ooms;
  for (const CellResult* c : cells) {
    const double m = per_class(*c);
    const int64_t classes = class_count(*c);
    if (m <= 0 || classes <= 0) continue;
    const std::string& key = labels.at(c->method);
    if (c->done())  // per class, so that 10 classes of 5,000 and 2 of 200,000 share one axis
      times[key][m].push_back(*c->stage_wall("select") / static_cast<double>(classes));
    else
      ooms[key].insert(m);
  }
  Plot p;
  p.title = "Selection time vs samples per class";
  p.x_label = "samples per class M (log)";
  p.y_label = "select wall time per class, s (log)";
  p.log_x = p.log_y = true;
  std::set<std::string> keys;
  for (const auto& [k, v] : times) keys.insert(k);
  for (const auto& [k, v] : ooms) keys.insert(k);
  for (const auto& key : keys) {
    PlotSeries s;
    s.name = key;
    if (auto it = times.find(key); it != times.end())
      for (const auto& [m, ts] : it->second) {
        const Summary sum = summarize(ts);
        s.x.push_back(m);
        s.y.push_back(sum.mean);
        s.y_err.push_back(sum.sd);
      }
    if (auto it = ooms.find(key); it != ooms.end()) s.oom_x.assign(it->second.begin(), it->second.end());
    p.series.push_back(std::move(s));
  }
  if (p.series.empty())
    return {"fig_selection_time", p.title, render_svg_message(p.title, "no recorded selection times yet")};
  p.note = "select time / classes, mean ± std over seeds and ratios; × = OOM (over the memory budget); "
           "machine load differs by database";
  return {"fig_selection_time", p.title + " (every method and mode; BGFDQ at k = 20, alpha = 1; × = OOM)", render_svg(p)};
}

std::vector<Figure> accuracy_vs_ratio(const ResultSet& rs) {
  std::vector<Figure> out;
  for (const auto& ex : rs.experiments()) {
    std::vector<const CellResult*> cells;
    for (const auto& c : rs.cells)
      if (c.experiment == ex && c.done() && c.metric("top1")) cells.push_back(&c);
    if (cells.empty()) continue;
    std::set<std::string> datasets;
    for (const CellResult* c : cells) datasets.insert(c->dataset);
    for (const auto& ds : datasets) {
      std::vector<const CellResult*> in;
      for (const CellResult* c : cells)
        if (c->dataset == ds) in.push_back(c);
      const auto labels = spec_labels(in);
      std::map<std::string, std::map<double, std::vector<double>>> acc;
      for (const CellResult* c : in) acc[labels.at(c->method)][c->ratio].push_back(*c->metric("top1") * 100);
      Plot p;
      p.title = fmt::format("Top-1 vs ratio: {} ({})", dataset_display(paper_dataset(*in.front())), ex);
      p.x_label = "coreset ratio ρ (log)";
      p.y_label = "top-1 accuracy, %";
      p.log_x = true;
      const std::string key = paper_dataset(*in.front());
      int colour = 0;
      for (const auto& [label, by_ratio] : acc) {
        PlotSeries s;
        s.name = label;
        s.colour = colour;
        for (const auto& [r, v] : by_ratio) {
          const Summary sum = summarize(v);
          s.x.push_back(r);
          s.y.push_back(sum.mean);
          s.y_err.push_back(sum.sd);
        }
        p.series.push_back(std::move(s));
        // The paper's numbers for the same row and dataset (Table 1; Random also Table 5's RS).
        std::map<double, double> published;
        const std::string label_base = label.substr(0, label.find(" ("));
        for (const auto& n : paper_numbers()) {
          if (key != n.dataset || *n.status || std::string(n.column) != "top1") continue;
          const std::string source = n.source, row = n.row;
          if ((source == "Table 1" && row == paper_row_of(label_base)) ||
              (source == "Table 5" && label_base == "Random" && row == "RS"))
            published.emplace(n.ratio, n.value);
        }
        if (!published.empty()) {
          PlotSeries ps;
          ps.name = label_base + " (paper)";
          ps.colour = colour;
          ps.hollow = true;
          for (const auto& [r, v] : published) {
            ps.x.push_back(r);
            ps.y.push_back(v);
          }
          p.series.push_back(std::move(ps));
        }
        ++colour;
      }
      p.note = "filled: ours, mean ± sample std over seeds (no bar with one seed); open, dashed: the paper (ResNet-18)";
      out.push_back({file_slug(fmt::format("fig_accuracy_vs_ratio_{}_{}", ex, ds)), p.title, render_svg(p)});
    }
  }
  if (out.empty())
    out.push_back({"fig_accuracy_vs_ratio", "Top-1 vs ratio",
                   render_svg_message("Top-1 vs ratio", "no trained cells recorded yet")});
  return out;
}

// The bin (percent of patches dropped) of an SPD histogram metric `spd_theta_<theta>_count`, as the patch
// stage records it (patching/patch_stage.cpp); nullopt for any other metric.
static std::optional<double> spd_theta_bin(const std::string& name) {
  const std::string prefix = "spd_theta_", suffix = "_count";
  if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 || !name.ends_with(suffix))
    return std::nullopt;
  const std::string theta = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  char* end = nullptr;
  const double t = std::strtod(theta.c_str(), &end);
  if (end != theta.c_str() + theta.size()) return std::nullopt;
  return std::round(t * 100.0);
}

Figure spd_histogram(const ResultSet& rs) {
  // (experiment, method label) -> bin (percent) -> values over DONE cells
  std::vector<const CellResult*> cells;
  for (const auto& c : rs.cells)
    if (c.done())
      for (const auto& [name, v] : c.metrics)
        if (spd_theta_bin(name)) {
          cells.push_back(&c);
          break;
        }
  const std::string title = "SPD: distribution of the chosen drop ratio θ*";
  if (cells.empty())
    return {"fig_spd_theta_hist", title,
            render_svg_message(title, "no SPD θ* histogram recorded yet (metrics spd_theta_<θ>_count)")};
  const auto labels = spec_labels(cells);
  std::map<std::string, std::map<double, std::vector<double>>> hist;
  std::set<double> bins;
  for (const CellResult* c : cells)
    for (const auto& [name, v] : c->metrics)
      if (const auto b = spd_theta_bin(name)) {
        const double bin = *b;
        hist[fmt::format("{} ({})", labels.at(c->method), c->experiment)][bin].push_back(v);
        bins.insert(bin);
      }
  Histogram h;
  h.title = title;
  h.x_label = "θ* (% of patches dropped)";
  h.y_label = "selected images (mean over seeds)";
  for (double b : bins) h.bins.push_back(fmt::format("{:g}", b));
  for (const auto& [series, by_bin] : hist) {
    h.series.push_back(series);
    std::vector<double> row;
    for (double b : bins) {
      auto it = by_bin.find(b);
      row.push_back(it == by_bin.end() ? 0 : summarize(it->second).mean);
    }
    h.values.push_back(row);
  }
  return {"fig_spd_theta_hist", title, render_svg(h)};
}

std::vector<Figure> coverage_redundancy(const ResultSet& rs) {
  std::vector<Figure> out;
  std::map<std::tuple<std::string, std::string, double>, std::vector<const CellResult*>> groups;
  for (const auto& c : rs.cells)
    if (c.done() && c.metric("coverage_mean") && c.metric("redundancy_mean"))
      groups[{c.experiment, c.dataset, c.ratio}].push_back(&c);
  for (const auto& [key, cells] : groups) {
    const auto& [ex, ds, ratio] = key;
    const auto labels = spec_labels(cells);
    std::map<std::string, PlotSeries> series;
    for (const CellResult* c : cells) {
      PlotSeries& s = series[labels.at(c->method)];
      s.name = labels.at(c->method);
      s.lines = false;
      s.x.push_back(*c->metric("coverage_mean"));
      s.y.push_back(*c->metric("redundancy_mean"));
    }
    Plot p;
    p.title = fmt::format("Coverage vs redundancy: {} {} ({})", dataset_display(paper_dataset(*cells.front())),
                          ratio_text(ratio), ex);
    p.x_label = "coverage R(S), mean over classes (lower is better)";
    p.y_label = "redundancy Γ(S) (higher is better)";
    for (auto& [name, s] : series) p.series.push_back(std::move(s));
    p.note = "one point per seed; squared Euclidean distance in the extractor's embedding space";
    out.push_back({file_slug(fmt::format("fig_coverage_redundancy_{}_{}_{}", ex, ds, ratio_text(ratio))), p.title,
                   render_svg(p)});
  }
  if (out.empty())
    out.push_back({"fig_coverage_redundancy", "Coverage vs redundancy",
                   render_svg_message("Coverage vs redundancy", "no coverage/redundancy metrics recorded yet")});
  return out;
}

}  // namespace

std::vector<Figure> build_figures(const ResultSet& rs) {
  std::vector<Figure> out = {selection_time(rs)};
  for (auto& f : accuracy_vs_ratio(rs)) out.push_back(std::move(f));
  out.push_back(spd_histogram(rs));
  for (auto& f : coverage_redundancy(rs)) out.push_back(std::move(f));
  return out;
}

}  // namespace dq
