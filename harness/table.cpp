#include "harness/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "core/error.h"
#include "core/stats.h"
#include "harness/sql.h"
#include "models/models.h"

namespace dq {

TableFormat table_format_from(const std::string& name) {
  if (name == "term" || name == "terminal") return TableFormat::Terminal;
  if (name == "md" || name == "markdown") return TableFormat::Markdown;
  throw Error(fmt::format("unknown table format '{}' (use term or md)", name));
}

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

// The recipes of the experiment's cells as their budget protocol, one line each.
std::vector<std::string> protocol_lines(Store& store, const std::string& experiment) {
  Statement s(
      store.handle(),
      "SELECT DISTINCT coalesce(json_extract(config, '$.train'), 'null') FROM cells WHERE ?1='' OR experiment=?1 "
      "ORDER BY 1",
      store.path());
  s.bind(1, experiment);
  std::set<std::string> out;
  while (s.step()) {
    std::map<std::string, std::string> train;
    const nlohmann::json j = nlohmann::json::parse(s.text(0), nullptr, false);
    if (j.is_object())
      for (const auto& [k, v] : j.items()) train[k] = v.is_string() ? v.get<std::string>() : v.dump();
    out.insert(budget_protocol_text(train));
  }
  return {out.begin(), out.end()};
}

}  // namespace

std::string render_results_table(Store& store, const std::string& experiment, TableFormat format,
                                 const std::string& baseline) {
  std::map<std::tuple<std::string, std::string, double>, Group> groups;
  for (const auto& row : store.cells(experiment)) {
    Group& g = groups[{row.dataset, row.method, row.ratio}];
    g.method_name = row.method_name;
    const std::string status = status_name(row.status);
    g.statuses[status] += 1;
    if (row.status != CellStatus::Done) continue;
    const auto m = store.metrics(row.cell_id);
    auto take = [&](const char* key, std::vector<double>& into) {
      if (auto it = m.find(key); it != m.end()) into.push_back(it->second);
    };
    if (auto it = m.find("top1"); it != m.end()) g.top1[row.seed] = it->second;
    take("top1_best", g.top1_best);
    take("train_steps", g.steps);
    take("sample_ratio", g.sample_ratio);
    take("storage_ratio", g.storage_ratio);
    for (const auto& st : store.stages(row.cell_id))
      if (st.name == "select") g.select_s.push_back(st.wall_s);
  }
  // The baseline of each (dataset, ratio): the one method whose name or label is `baseline`.
  std::map<std::pair<std::string, double>, std::vector<const Group*>> baselines;
  for (const auto& [key, g] : groups) {
    const auto& [dataset, method, ratio] = key;
    if (names_baseline(baseline, g.method_name) || names_baseline(baseline, method))
      baselines[{dataset, ratio}].push_back(&g);
  }
  const std::string delta = fmt::format("vs {} (pp)", baseline);
  const std::vector<std::string> header = {
      "dataset", "method",   "ratio",     "seeds",    "top-1 %", delta, "best-epoch top-1 %",
      "steps",   "sample %", "storage %", "select s", "status"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, g] : groups) {
    const auto& [dataset, method, ratio] = key;
    std::string status;
    for (const auto& [s, n] : g.statuses) status += (status.empty() ? "" : " ") + fmt::format("{}:{}", s, n);
    const int done = g.statuses.count("DONE") ? g.statuses.at("DONE") : 0;
    std::string vs = "-";
    if (const auto it = baselines.find({dataset, ratio}); it != baselines.end()) {
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
  for (const auto& line : protocol_lines(store, experiment)) head += "budget protocol: " + line + "\n";
  if (!head.empty()) head += "\n";
  std::string foot;
  if (baselines.empty() && !groups.empty())
    foot = fmt::format("\nno '{}' cells here: the '{}' column is empty (--baseline names another method)\n", baseline,
                       delta);
  else if (!groups.empty())
    foot = fmt::format(
        "\n{}: top-1 minus {}'s at the same dataset, ratio and seed, mean over shared seeds "
        "[95% t-interval], in percentage points\n",
        delta, baseline);
  std::string out = head;
  if (format == TableFormat::Markdown) {
    auto line = [](const std::vector<std::string>& cells) {
      std::string l = "|";
      for (const auto& c : cells) l += " " + c + " |";
      return l + "\n";
    };
    out += line(header);
    std::string sep = "|";
    for (size_t i = 0; i < header.size(); ++i) sep += (i < 3 ? "---|" : "---:|");
    out += sep + "\n";
    for (const auto& r : rows) out += line(r);
    return out + foot;
  }
  // Terminal: aligned columns; width counts code points so "±" aligns.
  auto width = [](const std::string& s) {
    size_t w = 0;
    for (unsigned char c : s) w += (c & 0xC0) != 0x80;
    return w;
  };
  std::vector<size_t> widths(header.size());
  for (size_t i = 0; i < header.size(); ++i) {
    widths[i] = width(header[i]);
    for (const auto& r : rows) widths[i] = std::max(widths[i], width(r[i]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string pad(widths[i] - width(cells[i]), ' ');
      l += (i ? "  " : "") + (i < 3 || i == cells.size() - 1 ? cells[i] + pad : pad + cells[i]);
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    return l + "\n";
  };
  out += line(header);
  size_t total = 0;
  for (size_t w : widths) total += w + 2;
  out += std::string(total - 2, '-') + "\n";
  for (const auto& r : rows) out += line(r);
  return out + foot;
}

}  // namespace dq
