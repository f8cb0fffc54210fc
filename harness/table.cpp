#include "harness/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "core/error.h"
#include "core/text_escape.h"

namespace dq {

TableFormat table_format_from(const std::string& name) {
  if (name == "term" || name == "terminal") return TableFormat::Terminal;
  if (name == "md" || name == "markdown") return TableFormat::Markdown;
  throw Error(fmt::format("unknown table format '{}' (use term or md)", name));
}

namespace {

struct Group {
  std::vector<double> top1, top1_best, sample_ratio, storage_ratio, select_s;
  std::map<std::string, int> statuses;
};

std::string mean_std(const std::vector<double>& v, double scale, int digits) {
  if (v.empty()) return "-";
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  if (v.size() == 1) return fmt::format("{:.{}f}", mean * scale, digits);
  double var = 0;
  for (double x : v) var += (x - mean) * (x - mean);
  const double sd = std::sqrt(var / static_cast<double>(v.size() - 1));  // sample std over seeds
  return fmt::format("{:.{}f} ± {:.{}f}", mean * scale, digits, sd * scale, digits);
}

std::string mean_of(const std::vector<double>& v, double scale, int digits) {
  if (v.empty()) return "-";
  double mean = 0;
  for (double x : v) mean += x;
  return fmt::format("{:.{}f}", mean / static_cast<double>(v.size()) * scale, digits);
}

}  // namespace

std::string render_results_table(Store& store, const std::string& experiment, TableFormat format) {
  std::map<std::tuple<std::string, std::string, double>, Group> groups;
  for (const auto& row : store.cells(experiment)) {
    Group& g = groups[{row.dataset, row.method, row.ratio}];
    const std::string status = status_name(row.status);
    g.statuses[status] += 1;
    if (row.status != CellStatus::Done) continue;
    const auto m = store.metrics(row.cell_id);
    auto take = [&](const char* key, std::vector<double>& into) {
      if (auto it = m.find(key); it != m.end()) into.push_back(it->second);
    };
    take("top1", g.top1);
    take("top1_best", g.top1_best);
    take("sample_ratio", g.sample_ratio);
    take("storage_ratio", g.storage_ratio);
    for (const auto& st : store.stages(row.cell_id))
      if (st.name == "select") g.select_s.push_back(st.wall_s);
  }
  const std::vector<std::string> header = {"dataset", "method", "ratio", "seeds", "top-1 %", "best-epoch top-1 %",
                                           "sample %", "storage %", "select s", "status"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, g] : groups) {
    const auto& [dataset, method, ratio] = key;
    std::string status;
    for (const auto& [s, n] : g.statuses) status += (status.empty() ? "" : " ") + fmt::format("{}:{}", s, n);
    const int done = g.statuses.count("DONE") ? g.statuses.at("DONE") : 0;
    rows.push_back({dataset, method, fmt::format("{}", ratio), std::to_string(done), mean_std(g.top1, 100, 2),
                    mean_std(g.top1_best, 100, 2), mean_of(g.sample_ratio, 100, 2), mean_of(g.storage_ratio, 100, 2),
                    mean_of(g.select_s, 1, 3), status});
  }
  std::string out;
  if (format == TableFormat::Markdown) {
    auto line = [](const std::vector<std::string>& cells) {
      std::string l = "|";
      for (const auto& c : cells) l += " " + markdown_cell(c) + " |";  // dataset and method come from the database
      return l + "\n";
    };
    out += line(header);
    std::string sep = "|";
    for (size_t i = 0; i < header.size(); ++i) sep += (i < 3 ? "---|" : "---:|");
    out += sep + "\n";
    for (const auto& r : rows) out += line(r);
    return out;
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
  for (auto& r : rows)
    for (auto& c : r) c = terminal_text(c);  // dataset and method come from the database
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
  return out;
}

}  // namespace dq
