#include "harness/cell_filter.h"

#include <fmt/format.h>

#include <set>

#include "core/error.h"

namespace dq {

CellFilter parse_cell_filter(const std::string& text, const std::string& where) {
  static const std::set<std::string> kKeys = {"dataset", "method", "ratio", "seed", "id"};
  CellFilter f;
  std::string term;
  auto flush = [&] {
    if (term.empty() || term == "all") {
      term.clear();
      return;
    }
    const auto eq = term.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == term.size())
      throw Error(fmt::format("{}: '{}' is not a key=value term (keys: dataset, method, ratio, seed, id; or 'all')",
                              where, term));
    const std::string key = term.substr(0, eq);
    if (!kKeys.count(key))
      throw Error(fmt::format("{}: unknown key '{}' (keys: dataset, method, ratio, seed, id)", where, key));
    f.terms.emplace_back(key, term.substr(eq + 1));
    term.clear();
  };
  for (char c : text) {
    if (c == ',' || c == ' ') flush();
    else term += c;
  }
  flush();
  return f;
}

bool CellFilter::matches(const CellConfig& cell) const {
  for (const auto& [key, value] : terms) {
    bool ok = false;
    if (key == "dataset") ok = cell.dataset.name == value;
    else if (key == "method")
      ok = cell.method.name == value || cell.method.canonical() == value || cell.method.display() == value;
    else if (key == "ratio") {
      try {
        ok = std::stod(value) == cell.ratio;
      } catch (const std::exception&) {
        ok = false;
      }
    } else if (key == "seed") ok = std::to_string(cell.seed) == value;
    else if (key == "id") ok = cell.id().rfind(value, 0) == 0;
    if (!ok) return false;
  }
  return true;
}

}  // namespace dq

namespace dq {
std::pair<int64_t, int64_t> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  try {
    if (slash != std::string::npos) {
      size_t a = 0, b = 0;
      const int64_t k = std::stoll(text.substr(0, slash), &a), n = std::stoll(text.substr(slash + 1), &b);
      if (a == slash && b == text.size() - slash - 1 && n >= 1 && k >= 1 && k <= n) return {k - 1, n};
    }
  } catch (const std::exception&) {
  }
  throw Error(fmt::format("--shard: '{}' is not K/N with 1 <= K <= N (e.g. 2/4)", text));
}
}  // namespace dq
