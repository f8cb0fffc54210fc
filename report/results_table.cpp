#include "report/results_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "core/stats.h"
#include "core/text_escape.h"
#include "harness/cell_artefacts.h"
#include "models/models.h"
#include "report/results.h"
#include "report/table_model.h"

namespace dq {

namespace {

struct Group {
  std::string method_name;
  std::map<int64_t, double> top1;  // by seed
  std::vector<double> top1_best, steps, sample_ratio, storage_ratio, select_s;
  std::map<std::string, int> statuses;
};

std::string mean_std(const std::vector<double>& v, double scale, int digits) {
  const Summary s = summarize(v);
  if (s.n == 0) return "-";
  if (s.n == 1) return fmt::format("{:.{}f}", s.mean * scale, digits);
  return fmt::format("{:.{}f} ± {:.{}f}", s.mean * scale, digits, s.sd * scale, digits);
}

std::string mean_of(const std::vector<double>& v, double scale, int digits) {
  if (v.empty()) return "-";
  return fmt::format("{:.{}f}", summarize(v).mean * scale, digits);
}

std::vector<double> values(const std::map<int64_t, double>& by_seed) {
  std::vector<double> out;
  for (const auto& [seed, v] : by_seed) out.push_back(v);
  return out;
}

// "+1.23 [-0.50, +2.96]": A - baseline paired by seed, in points, with its 95% t-interval.
std::string improvement(const std::map<int64_t, double>& a, const std::map<int64_t, double>& base) {
  if (a.empty() || base.empty()) return "-";
  const PairedDifference d = paired_difference(a, base);
  if (d.n == 0) return "no shared seed";
  if (!d.has_interval) return fmt::format("{:+.2f} (n=1)", 100 * d.mean);
  return fmt::format("{:+.2f} [{:+.2f}, {:+.2f}]", 100 * d.mean, 100 * d.low, 100 * d.high);
}

// The recipes of the cells as their budget protocol, one line each.
std::vector<std::string> protocol_lines(const std::vector<const CellResult*>& cells) {
  std::set<std::string> out;
  for (const CellResult* c : cells) out.insert(budget_protocol_text(c->train));
  return {out.begin(), out.end()};
}

// What the DONE cells recorded of their upstream artefacts and tree (harness/cell_artefacts.h): the
// label of each cell's upstream when a dataset's cells do not share one (else ""), and the notes.
struct Integrity {
  std::map<std::string, std::string> part_of;  // cell id -> upstream label ("" when its dataset is not mixed)
  std::vector<std::string> notes;
};

Integrity integrity_of(const std::vector<const CellResult*>& rows) {
  Integrity out;
  std::map<std::pair<std::string, std::string>, std::vector<std::pair<std::string, UpstreamHashes>>> by_dataset;
  int64_t done = 0, unrecorded = 0, dirty = 0;
  for (const CellResult* row : rows) {
    if (!row->done()) continue;
    ++done;
    UpstreamHashes h;
    for (const auto& kind : upstream_kinds())
      if (const auto it = row->artefacts.find(kind); it != row->artefacts.end()) h[kind] = it->second;
    if (h.empty()) ++unrecorded;
    else by_dataset[{row->experiment, row->dataset}].push_back({row->cell_id, with_code(std::move(h), row->code)});
    if (row->git_dirty) ++dirty;
  }
  for (const auto& [dataset, cells] : by_dataset) {
    std::vector<UpstreamHashes> hashes;
    for (const auto& [id, h] : cells) hashes.push_back(h);
    const auto parts = compatible_parts(hashes);
    if (parts.size() < 2) continue;
    std::string list;
    for (size_t p = 0; p < parts.size(); ++p) {
      // A part is named by where it differs from the first part (the first by where the second differs).
      const UpstreamHashes& mine = hashes[parts[p].front()];
      const UpstreamHashes& other = hashes[parts[p == 0 ? 1 : 0].front()];
      UpstreamHashes shown;
      for (const auto& key : upstream_differences(mine, other)) shown[key] = mine.at(key);
      const std::string label = upstream_text(shown);
      for (size_t i : parts[p]) out.part_of[cells[i].first] = label;
      list += fmt::format("{}[{}] {} cells", list.empty() ? "" : ", ", label, parts[p].size());
    }
    out.notes.push_back(fmt::format("note: the cells of {} on {} used different upstream artefacts or code ({}); rows "
                                    "are split by them, never averaged together",
                                    dataset.first, dataset.second, list));
  }
  if (unrecorded > 0)
    out.notes.push_back(fmt::format("note: pairing unverified: {} of {} DONE cells record no artefact hashes (a "
                                    "database from before dqbench recorded them; dqbench verify)",
                                    unrecorded, done));
  if (dirty > 0)
    out.notes.push_back(fmt::format("note: {} of {} DONE cells ran from a tree with uncommitted changes (git_dirty)",
                                    dirty, done));
  return out;
}

using Configuration = std::map<std::string, std::string>;
using GroupKey = std::tuple<std::string, std::string, double, std::string, Configuration>;

// The section of a configuration key ("patches" for "patches.drop"); "" for a method parameter.
std::string section_of(const std::string& key) {
  const auto dot = key.find('.');
  return dot == std::string::npos ? "" : key.substr(0, dot);
}

// For each group, what tells it apart from the groups of the same (dataset, label, ratio, upstream
// part) with another configuration: " (key=value, ...)" with the keys whose values differ between
// configurations that have the key's section ('' for a key one of them lacks), and "section=none"
// for a configuration without a section that another has (train: none, patches that do not enter the
// cell's id). Distinct configurations get distinct texts; a group alone under its label gets "".
std::map<const Group*, std::string> variant_texts(const std::map<GroupKey, Group>& groups) {
  std::map<std::tuple<std::string, std::string, double, std::string>,
           std::vector<std::pair<const Configuration*, const Group*>>>
      by_label;
  for (const auto& [key, g] : groups) {
    const auto& [dataset, name, ratio, part, configuration] = key;
    by_label[{dataset, name, ratio, part}].push_back({&configuration, &g});
  }
  auto sections_of = [](const Configuration& c) {
    std::set<std::string> out;
    for (const auto& [key, value] : c) out.insert(section_of(key));
    return out;
  };
  auto value_of = [](const Configuration& c, const std::string& key) {
    const auto it = c.find(key);
    return it == c.end() ? std::string() : it->second;
  };
  std::map<const Group*, std::string> out;
  for (const auto& [label, members] : by_label) {
    std::set<std::string> keys, differing, partial_sections;
    for (const auto& [configuration, g] : members)
      for (const auto& [key, value] : *configuration) keys.insert(key);
    for (const auto& [a, ga] : members)
      for (const auto& [b, gb] : members) {
        const auto sa = sections_of(*a), sb = sections_of(*b);
        for (const auto& section : sa)
          if (!sb.count(section)) partial_sections.insert(section);
        for (const auto& key : keys)
          if (sa.count(section_of(key)) && sb.count(section_of(key)) && value_of(*a, key) != value_of(*b, key))
            differing.insert(key);
      }
    for (const auto& [configuration, g] : members) {
      std::vector<std::string> parts;
      const auto mine = sections_of(*configuration);
      for (const auto& key : differing)
        if (mine.count(section_of(key))) {
          const std::string value = value_of(*configuration, key);
          parts.push_back(fmt::format("{}={}", key, value.empty() ? "''" : value));
        }
      for (const auto& section : partial_sections)
        if (!mine.count(section)) parts.push_back(section + "=none");
      std::string text;
      for (const auto& part : parts) text += (text.empty() ? "" : ", ") + part;
      out[g] = text.empty() ? "" : " (" + text + ")";
    }
  }
  return out;
}

}  // namespace

std::string render_results_table(Store& store, const std::string& experiment, TableFormat format,
                                 const std::string& baseline) {
  const std::vector<CellResult> all = read_results(store);
  std::vector<const CellResult*> cells;
  for (const CellResult& c : all)
    if (experiment.empty() || c.experiment == experiment) cells.push_back(&c);
  const Integrity integrity = integrity_of(cells);
  // One group per configuration (report/results.h CellResult::configuration): cells that share a
  // label but not a configuration are never averaged as if they were seeds.
  std::map<std::tuple<std::string, std::string, double, std::string, Configuration>, Group> groups;
  for (const CellResult* row : cells) {
    const auto part = integrity.part_of.find(row->cell_id);
    Group& g = groups[{row->dataset, row->method, row->ratio, part == integrity.part_of.end() ? "" : part->second,
                       row->configuration()}];
    g.method_name = row->method_name;
    g.statuses[row->status] += 1;
    if (!row->done()) continue;
    const auto& m = row->metrics;
    auto take = [&](const char* key, std::vector<double>& into) {
      if (auto it = m.find(key); it != m.end()) into.push_back(it->second);
    };
    if (auto it = m.find("top1"); it != m.end()) g.top1[row->seed] = it->second;
    take("top1_best", g.top1_best);
    take("train_steps", g.steps);
    take("sample_ratio", g.sample_ratio);
    take("storage_ratio", g.storage_ratio);
    if (const auto wall = row->stage_wall("select")) g.select_s.push_back(*wall);
  }
  // The baseline of each (dataset, ratio, upstream part): the one method whose name or label is
  // `baseline`. Cells of other upstream artefacts are never paired.
  std::map<std::tuple<std::string, double, std::string>, std::vector<const Group*>> baselines;
  for (const auto& [key, g] : groups) {
    const auto& [dataset, method, ratio, part, configuration] = key;
    if (names_baseline(baseline, g.method_name) || names_baseline(baseline, method))
      baselines[{dataset, ratio, part}].push_back(&g);
  }
  const std::string delta = fmt::format("vs {} (pp)", baseline);
  const std::vector<std::string> header = {
      "dataset", "method",   "ratio",     "seeds",    "top-1 %", delta, "best-epoch top-1 %",
      "steps",   "sample %", "storage %", "select s", "status"};
  std::vector<std::vector<std::string>> rows;
  const auto variants = variant_texts(groups);
  for (const auto& [key, g] : groups) {
    const auto& [dataset, name, ratio, part, configuration] = key;
    const std::string labelled = name + variants.at(&g);
    const std::string method = part.empty() ? labelled : labelled + " [" + part + "]";
    std::string status;
    for (const auto& [s, n] : g.statuses) status += (status.empty() ? "" : " ") + fmt::format("{}:{}", s, n);
    const int done = g.statuses.count("DONE") ? g.statuses.at("DONE") : 0;
    std::string vs = "-";
    if (const auto it = baselines.find({dataset, ratio, part}); it != baselines.end()) {
      if (it->second.size() > 1)
        vs = "several baselines";
      else if (it->second.front() == &g)
        vs = "baseline";
      else
        vs = improvement(g.top1, it->second.front()->top1);
    }
    rows.push_back({dataset, method, fmt::format("{}", ratio), std::to_string(done), mean_std(values(g.top1), 100, 2),
                    vs, mean_std(g.top1_best, 100, 2), mean_of(g.steps, 1, 0), mean_of(g.sample_ratio, 100, 2),
                    mean_of(g.storage_ratio, 100, 2), mean_of(g.select_s, 1, 3), status});
  }
  // Above the table: the budget protocol; below it: why the improvement column is empty, if it is.
  std::string head;
  for (const auto& line : protocol_lines(cells)) head += "budget protocol: " + line + "\n";
  if (!head.empty()) head += "\n";
  std::string foot;
  if (baselines.empty() && !groups.empty())
    foot = fmt::format("\nno '{}' cells here: the '{}' column is empty (--baseline names another method)\n", baseline,
                       delta);
  else if (!groups.empty())
    foot = fmt::format(
        "\n{}: top-1 minus {}'s at the same dataset, ratio, upstream artefacts and seed, mean over shared seeds "
        "[95% t-interval], in percentage points\n",
        delta, baseline);
  ReportTable table;
  table.header = header;
  table.rows = rows;
  table.left_columns = 3;
  table.last_column_left = true;
  std::string out = head;
  if (format == TableFormat::Markdown) {
    out += render_markdown_table(table) + foot;
    for (const auto& n : integrity.notes) out += "\n" + n + "\n";
    return out;
  }
  out += render_terminal_table(table) + foot;
  for (const auto& n : integrity.notes) out += n + "\n";
  return out;
}

}  // namespace dq
