#include "report/cell_groups.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "core/stats.h"
#include "core/units.h"
#include "report/integrity.h"
#include "report/labels.h"

namespace dq {

Quantity metric_quantity(const std::string& name) {
  return [name](const CellResult& c) { return c.metric(name); };
}

Quantity stage_quantity(const std::string& stage) {
  return [stage](const CellResult& c) { return c.stage_wall(stage); };
}

Quantity unless_cached(const Quantity& q) {
  return [q](const CellResult& c) -> std::optional<double> {
    if (reused_cached_work(c)) return std::nullopt;
    return q(c);
  };
}

std::map<int64_t, double> CellGroup::by_seed(const Quantity& q, double scale) const {
  std::map<int64_t, double> out;
  for (const CellResult* c : cells)
    if (c->done())
      if (auto v = q(*c)) out[c->seed] = *v * scale;
  return out;
}

std::map<int64_t, const CellResult*> CellGroup::cells_by_seed(const Quantity& q) const {
  std::map<int64_t, const CellResult*> out;
  for (const CellResult* c : cells)
    if (c->done() && q(*c)) out[c->seed] = c;
  return out;
}

std::vector<double> CellGroup::values(const Quantity& q, double scale) const {
  std::vector<double> out;
  for (const auto& [seed, v] : by_seed(q, scale)) out.push_back(v);
  return out;
}

int CellGroup::done() const {
  return static_cast<int>(std::count_if(cells.begin(), cells.end(), [](const CellResult* c) { return c->done(); }));
}

std::string not_done_text(const CellGroup& g) {
  std::map<std::string, int> counts;
  double oom_asked = 0;
  for (const CellResult* c : g.cells) {
    if (c->done()) continue;
    counts[c->status] += 1;
    if (auto asked = c->metric("oom_requested_bytes")) oom_asked = std::max(oom_asked, *asked);
  }
  std::string out;
  for (const auto& [status, n] : counts) {
    out += (out.empty() ? "" : ", ") + fmt::format("{} ×{}", status, n);
    if (status == "OOM" && oom_asked > 0)
      out += fmt::format(" ({} asked)", format_bytes(static_cast<uint64_t>(oom_asked)));
  }
  return out;
}

namespace {
std::string mean_text(const Summary& s, int digits, const std::string& extra = "") {
  const std::string n = fmt::format("n={}{}", s.n, extra.empty() ? "" : "; " + extra);
  if (s.n == 1) return fmt::format("{:.{}f} ({})", s.mean, digits, n);
  return fmt::format("{:.{}f} ± {:.{}f} ({})", s.mean, digits, s.sd, digits, n);
}
}  // namespace

std::string summary_cell(const CellGroup& g, const Quantity& q, double scale, int digits,
                         const std::string& done_without_value) {
  if (g.cells.empty()) return "not run";
  const Summary s = summarize(g.values(q, scale));
  const std::string rest = not_done_text(g);
  std::string out;
  if (s.n == 0) {
    if (!rest.empty()) return rest;
    return done_without_value;
  }
  std::vector<const CellResult*> valued;
  for (const auto& [seed, c] : g.cells_by_seed(q)) valued.push_back(c);
  const auto parts = split_by_upstream(valued);
  if (parts.size() > 1) {  // never averaged together: each part on its own, named by its hashes
    const auto labels = part_labels(parts);
    out = "mixed upstream: ";
    for (size_t i = 0; i < parts.size(); ++i)
      out += (i ? " / " : "") + mean_text(summarize(CellGroup{parts[i]}.values(q, scale)), digits, labels[i]);
  } else {
    out = mean_text(s, digits);
  }
  if (!rest.empty()) out += "; " + rest;
  return out;
}

namespace {

// The values of two groups by seed, paired: a seed whose two cells recorded different upstream artefacts
// (report/integrity.h) is left out of both, and named in `left_out`.
struct SeedPairs {
  std::map<int64_t, double> a, b;
  std::vector<std::pair<const CellResult*, const CellResult*>> left_out;
  bool unverified = false;  // some pair has a cell that recorded no artefacts
};

SeedPairs same_upstream_pairs(const CellGroup& ga, const CellGroup& gb, const Quantity& q, double scale) {
  SeedPairs out{ga.by_seed(q, scale), gb.by_seed(q, scale), {}, false};
  const auto b_cells = gb.cells_by_seed(q);
  for (const auto& [seed, ca] : ga.cells_by_seed(q)) {
    const auto cb = b_cells.find(seed);
    if (cb == b_cells.end()) continue;
    out.unverified = out.unverified || ca->unrecorded() || cb->second->unrecorded();
    if (same_upstream(*ca, *cb->second)) continue;
    out.left_out.emplace_back(ca, cb->second);
    out.a.erase(seed);
    out.b.erase(seed);
  }
  return out;
}

}  // namespace

ReportTable paired_table(const std::string& title, const std::vector<PairedColumn>& columns, const Quantity& q,
                         double scale, int digits, const std::string& unit) {
  ReportTable t;
  t.title = title;
  t.caption = fmt::format(
      "Paired differences A − B over seeds (one experiment has one extractor, so a seed gives both methods the "
      "same embeddings and split; a pair is formed only when both cells recorded the same dataset, extractor "
      "network and embeddings), in {}; 95% Student-t interval over the shared seeds; 'yes' marks an interval "
      "that excludes 0.",
      unit);
  t.header = {"column", "A", "B", "pairs", "mean A − B", "95% interval", "excludes 0"};
  t.left_columns = 3;
  bool unverified = false;  // some pair has a cell that recorded no artefacts
  for (const auto& col : columns) {
    for (size_t i = 0; i < col.rows.size(); ++i) {
      if (col.rows[i].second.cells_by_seed(q).empty()) continue;
      for (size_t j = 0; j < i; ++j) {
        if (col.rows[j].second.cells_by_seed(q).empty()) continue;
        // Only cells of the same upstream are paired; the others are named in a note.
        const SeedPairs pairs = same_upstream_pairs(col.rows[i].second, col.rows[j].second, q, scale);
        unverified = unverified || pairs.unverified;
        for (const auto& [ca, cb] : pairs.left_out)
          t.notes.push_back(fmt::format("Left out of the pairs: {}, seed {}: {} vs {}: {} (different upstream).",
                                        col.label, ca->seed, col.rows[i].first, col.rows[j].first,
                                        differences_text(upstream_of(*ca), upstream_of(*cb))));
        const PairedDifference d = paired_difference(pairs.a, pairs.b);
        std::string mean = d.n ? fmt::format("{:+.{}f}", d.mean, digits) : "–";
        std::string interval = d.has_interval
                                   ? fmt::format("[{:+.{}f}, {:+.{}f}]", d.low, digits, d.high, digits)
                                   : (d.n ? "needs ≥2 shared seeds" : "no shared seed");
        t.rows.push_back({col.label, col.rows[i].first, col.rows[j].first, std::to_string(d.n), mean, interval,
                          d.excludes_zero() ? "yes" : (d.has_interval ? "no" : "–")});
      }
    }
  }
  if (unverified)
    t.notes.push_back("Pairing unverified: some paired cells record no artefact hashes (a database from before "
                      "dqbench recorded them), so nothing shows that a seed gave both the same extractor and "
                      "embeddings.");
  return t;
}

std::string improvement_cell(const CellGroup& group, const CellGroup& baseline, const Quantity& q, double scale,
                             int digits) {
  if (group.by_seed(q, scale).empty() || baseline.by_seed(q, scale).empty()) return "–";
  const SeedPairs pairs = same_upstream_pairs(group, baseline, q, scale);
  const PairedDifference d = paired_difference(pairs.a, pairs.b);
  if (d.n == 0) return pairs.left_out.empty() ? "no shared seed" : "different upstream";
  if (!d.has_interval) return fmt::format("{:+.{}f} (n=1)", d.mean, digits);
  return fmt::format("{:+.{}f} [{:+.{}f}, {:+.{}f}] (n={})", d.mean, digits, d.low, digits, d.high, digits, d.n);
}

std::string budget_cell(const CellGroup& g) {
  const std::vector<double> steps = g.values(metric_quantity("train_steps"));
  const Summary storage = summarize(g.values(metric_quantity("storage_ratio"), 100));
  std::string out;
  if (!steps.empty()) {
    const auto [lo, hi] = std::minmax_element(steps.begin(), steps.end());
    out = *lo == *hi ? fmt::format("{:.0f} steps", *lo) : fmt::format("{:.0f}–{:.0f} steps", *lo, *hi);
  }
  if (storage.n > 0) out += fmt::format("{}{:.2f}%", out.empty() ? "" : ", ", storage.mean);
  return out.empty() ? "–" : out;
}

std::string ratio_text(double ratio) { return fmt::format("{:g}%", ratio * 100); }

ReportTable improvement_table(const std::string& title, const MethodGrid& g, std::optional<size_t> base,
                              const std::string& why, const std::function<std::string(const GridColumn&)>& name,
                              const Quantity& q, double scale, int digits, const std::string& unit) {
  ReportTable t;
  t.title = title;
  t.header = {"column", "method", "per seed (A − B)", "pairs", "mean", "95% interval"};
  t.left_columns = 3;
  if (!base) {
    t.caption = why + ": no improvement over it can be computed.";
    return t;
  }
  const std::string b_label = g.rows[*base].display;
  t.caption = fmt::format(
      "Improvement over {} (B) of each method (A), per seed and paired (at one seed both cells train from the same "
      "initial network and random stream; their coresets differ; a seed whose two cells recorded different upstream "
      "artefacts is not paired), in {}; mean over the shared seeds with its 95% Student-t interval.",
      b_label, unit);
  for (size_t c = 0; c < g.columns.size(); ++c) {
    if (g.at(*base, c).by_seed(q, scale).empty()) continue;
    for (size_t r = 0; r < g.rows.size(); ++r) {
      if (r == *base || g.at(r, c).by_seed(q, scale).empty()) continue;
      // Seeds whose two cells used different upstream artefacts are not paired (report/integrity.h).
      const SeedPairs pairs = same_upstream_pairs(g.at(r, c), g.at(*base, c), q, scale);
      const auto &a = pairs.a, &b = pairs.b;
      std::string per_seed;
      for (const auto& [seed, v] : a)
        if (auto it = b.find(seed); it != b.end())
          per_seed += fmt::format("{}s{} {:+.{}f}", per_seed.empty() ? "" : "; ", seed, v - it->second, digits);
      const PairedDifference d = paired_difference(a, b);
      t.rows.push_back({name(g.columns[c]), g.rows[r].display, per_seed.empty() ? "no shared seed" : per_seed,
                        std::to_string(d.n), d.n ? fmt::format("{:+.{}f}", d.mean, digits) : "–",
                        d.has_interval ? fmt::format("[{:+.{}f}, {:+.{}f}]", d.low, digits, d.high, digits)
                                       : (d.n ? "needs ≥2 shared seeds" : "–")});
    }
  }
  return t;
}

}  // namespace dq

#include "report/labels.h"

namespace dq {

bool GridColumn::operator<(const GridColumn& o) const {
  const int a = dataset_order(dataset), b = dataset_order(o.dataset);
  if (a != b) return a < b;
  if (dataset != o.dataset) return dataset < o.dataset;
  if (ratio != o.ratio) return ratio > o.ratio;
  return extra < o.extra;
}

const CellGroup& MethodGrid::at(size_t row, size_t column) const {
  static const CellGroup empty;
  auto it = groups.find({row, column});
  return it == groups.end() ? empty : it->second;
}

void MethodGrid::add_missing_rows(const std::vector<std::string>& labels) {
  for (const auto& label : labels) {
    const bool present = std::any_of(rows.begin(), rows.end(), [&](const Row& r) { return r.label == label; });
    if (!present) rows.push_back({"", label, label, nullptr});
  }
  // Keep the paper's order; groups are keyed by row index, so re-key them.
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return row_order(rows[a].label) < row_order(rows[b].label);
  });
  std::vector<Row> sorted;
  std::map<std::pair<size_t, size_t>, CellGroup> regrouped;
  for (size_t i = 0; i < order.size(); ++i) {
    sorted.push_back(rows[order[i]]);
    for (size_t c = 0; c < columns.size(); ++c)
      if (auto it = groups.find({order[i], c}); it != groups.end()) regrouped[{i, c}] = it->second;
  }
  rows = std::move(sorted);
  groups = std::move(regrouped);
}

std::vector<PairedColumn> MethodGrid::paired_columns(
    const std::function<std::string(const GridColumn&)>& name) const {
  std::vector<PairedColumn> out;
  for (size_t c = 0; c < columns.size(); ++c) {
    PairedColumn col{name(columns[c]), {}};
    for (size_t r = 0; r < rows.size(); ++r)
      if (!at(r, c).cells.empty()) col.rows.push_back({rows[r].display, at(r, c)});
    out.push_back(std::move(col));
  }
  return out;
}

std::optional<size_t> MethodGrid::baseline_row(const std::string& baseline, std::string& why) const {
  std::vector<size_t> found;
  for (size_t r = 0; r < rows.size(); ++r) {
    const Row& row = rows[r];
    if (!row.example) continue;  // a paper row not run
    if (names_baseline(baseline, row.label) || names_baseline(baseline, row.display) ||
        names_baseline(baseline, row.spec) || names_baseline(baseline, row.example->method_name))
      found.push_back(r);
  }
  if (found.size() == 1) return found.front();
  if (found.empty()) {
    why = fmt::format("no cells of the baseline '{}' in this experiment", baseline);
  } else {
    std::string list;
    for (size_t r : found) list += (list.empty() ? "" : ", ") + rows[r].display;
    why = fmt::format("the baseline '{}' matches {} rows ({}); name one by its label", baseline, found.size(), list);
  }
  return std::nullopt;
}

MethodGrid make_grid(const std::vector<const CellResult*>& cells,
                     const std::function<std::string(const CellResult&)>& row_label,
                     const std::function<std::string(const CellResult&)>& column_extra) {
  MethodGrid g;
  std::map<std::string, size_t> row_of;
  for (const CellResult* c : cells) {
    if (row_of.count(c->method)) continue;
    row_of[c->method] = g.rows.size();
    g.rows.push_back({c->method, row_label(*c), "", c});
  }
  std::vector<size_t> order(g.rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto& x = g.rows[a];
    const auto& y = g.rows[b];
    const int ox = row_order(x.label), oy = row_order(y.label);
    if (ox != oy) return ox < oy;
    if (x.label != y.label) return x.label < y.label;
    return x.spec < y.spec;
  });
  std::vector<MethodGrid::Row> sorted;
  for (size_t i : order) sorted.push_back(g.rows[i]);
  g.rows = std::move(sorted);
  row_of.clear();
  std::vector<std::string> labels;
  std::vector<const CellResult*> examples;
  for (size_t i = 0; i < g.rows.size(); ++i) {
    row_of[g.rows[i].spec] = i;
    labels.push_back(g.rows[i].label);
    examples.push_back(g.rows[i].example);
  }
  const auto displays = distinguish_variants(labels, examples);
  for (size_t i = 0; i < g.rows.size(); ++i) g.rows[i].display = displays[i];

  auto column_of = [&](const CellResult& c) {
    return GridColumn{paper_dataset(c), c.ratio, column_extra ? column_extra(c) : ""};
  };
  for (const CellResult* c : cells) {
    const GridColumn col = column_of(*c);
    if (std::find(g.columns.begin(), g.columns.end(), col) == g.columns.end()) g.columns.push_back(col);
  }
  std::sort(g.columns.begin(), g.columns.end());
  for (const CellResult* c : cells) {
    const GridColumn col = column_of(*c);
    const size_t ci = static_cast<size_t>(std::find(g.columns.begin(), g.columns.end(), col) - g.columns.begin());
    g.groups[{row_of[c->method], ci}].cells.push_back(c);
  }
  return g;
}

std::string spec_note(const MethodGrid& grid) {
  std::string out = "Rows:";
  bool any = false;
  for (const auto& r : grid.rows) {
    if (r.spec.empty()) continue;
    out += fmt::format("{} {} = `{}`", any ? ";" : "", r.display, r.spec);
    any = true;
  }
  return out + ".";
}

}  // namespace dq
