#include "report/results.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <tuple>

#include "core/error.h"
#include "harness/cell_artefacts.h"
#include "harness/sql.h"
#include "methods/method.h"

namespace dq {

bool CellResult::unrecorded() const {
  return done() && std::none_of(artefacts.begin(), artefacts.end(), [](const auto& a) { return a.first != "selection"; });
}

std::optional<double> CellResult::metric(const std::string& name) const {
  if (auto it = metrics.find(name); it != metrics.end()) return it->second;
  return std::nullopt;
}

std::optional<double> CellResult::stage_wall(const std::string& stage) const {
  if (auto it = stages.find(stage); it != stages.end()) return it->second.wall_s;
  return std::nullopt;
}

std::string CellResult::method_param(const std::string& key) const {
  if (auto it = method_params.find(key); it != method_params.end()) return it->second;
  return "";
}

bool CellResult::method_param_is_default(const std::string& key) const {
  const auto stored = method_params.find(key);
  if (stored == method_params.end()) return false;
  for (const MethodInfo* m : MethodRegistry::instance().list()) {
    if (m->name != method_name) continue;
    for (const ParamSpec& spec : m->params) {
      if (spec.name != key) continue;
      Params typed(m->name, m->params);  // the stored text parsed as the method declares it ("1.0" == 1)
      try {
        typed.set_from_text(key, stored->second, "stored cell " + cell_id);
      } catch (const Error&) {
        return false;
      }
      return typed.values().at(key) == spec.default_value;
    }
  }
  return false;
}

std::vector<std::string> ResultSet::experiments() const {
  std::set<std::string> names;
  for (const auto& c : cells) names.insert(c.experiment);
  return {names.begin(), names.end()};
}

namespace {

std::string json_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::map<std::string, std::string> flat_params(const nlohmann::json& obj) {
  std::map<std::string, std::string> out;
  if (!obj.is_object()) return out;
  for (const auto& [k, v] : obj.items()) out[k] = json_text(v);
  return out;
}

void read_config(CellResult& c, const std::string& config_text, const std::string& where) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(config_text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: cell {}: unreadable config JSON: {}", where, c.cell_id, e.what()));
  }
  if (j.contains("dataset")) {
    c.dataset_kind = j["dataset"].value("kind", "");
    if (j["dataset"].contains("params")) c.dataset_params = flat_params(j["dataset"]["params"]);
  }
  if (j.contains("method") && j["method"].contains("params")) c.method_params = flat_params(j["method"]["params"]);
  if (j.contains("extractor") && j["extractor"].is_object()) c.extractor = flat_params(j["extractor"]);
  if (j.contains("train") && j["train"].is_object()) c.train = flat_params(j["train"]);
  if (j.contains("memory_budget") && j["memory_budget"].is_number())
    c.memory_budget_bytes = j["memory_budget"].get<double>();
}

// A cell stored before its method gained a parameter lacks it in its stored spec. Reading the spec
// back through the method registry fills in the parameter's default (a method keeps its old behaviour
// at a new parameter's default), so the cell groups, and is labelled, with newer cells of the same
// configuration. A spec the registry cannot read (a plugin that is not loaded, a parameter since
// removed) stays as it was stored.
void fill_new_method_defaults(CellResult& c) {
  MethodSpec spec;
  try {
    spec = parse_method_spec(c.method, "stored cell " + c.cell_id);
  } catch (const Error&) {
    return;
  }
  for (const auto& [key, value] : spec.params.values())
    if (!c.method_params.count(key))
      c.method_params[key] = json_text(std::visit([](const auto& v) { return nlohmann::json(v); }, value));
  c.method = spec.canonical();
}

struct ReadOnlyDb {
  sqlite3* db = nullptr;
  explicit ReadOnlyDb(const std::string& path) {
    if (!std::filesystem::is_regular_file(path)) throw Error(fmt::format("{}: no such database", path));
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      const std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
      sqlite3_close(db);
      throw Error(fmt::format("{}: cannot open database: {}", path, msg));
    }
    sqlite3_busy_timeout(db, 30000);
    try {
      guard_untrusted_database(db, path);  // the databases of a report may come from anyone (harness/sql.h)
    } catch (...) {
      sqlite3_close(db);
      throw;
    }
  }
  ~ReadOnlyDb() { sqlite3_close(db); }
};

bool has_table(sqlite3* db, const std::string& path, const std::string& table) {
  Statement s(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?", path);
  s.bind(1, table);
  return s.step() && s.integer(0) > 0;
}

bool has_column(sqlite3* db, const std::string& path, const std::string& table, const std::string& column) {
  Statement s(db, fmt::format("SELECT count(*) FROM pragma_table_info('{}') WHERE name=?", table), path);
  s.bind(1, column);
  return s.step() && s.integer(0) > 0;
}

std::vector<CellResult> read_database(const std::string& path) {
  ReadOnlyDb ro(path);
  for (const char* t : {"cells", "stages", "metrics"})
    if (!has_table(ro.db, path, t))
      throw Error(fmt::format("{}: not a dqbench results database (no '{}' table)", path, t));
  const bool provenance = has_table(ro.db, path, "provenance");
  std::vector<CellResult> out;
  std::map<std::string, size_t> index;
  {
    Statement s(ro.db,
                "SELECT cell_id, experiment, dataset, method, method_name, ratio, seed, config, status, "
                "coalesce(error,'') FROM cells",
                path);
    while (s.step()) {
      CellResult c;
      c.db = path;
      c.cell_id = s.text(0);
      c.experiment = s.text(1);
      c.dataset = s.text(2);
      c.method = s.text(3);
      c.method_name = s.text(4);
      c.ratio = s.real(5);
      c.seed = s.integer(6);
      read_config(c, s.text(7), path);
      fill_new_method_defaults(c);
      c.status = s.text(8);
      c.error = s.text(9);
      index[c.cell_id] = out.size();
      out.push_back(std::move(c));
    }
  }
  {
    Statement s(ro.db, "SELECT cell_id, name, value FROM metrics WHERE value IS NOT NULL", path);
    while (s.step())
      if (auto it = index.find(s.text(0)); it != index.end()) out[it->second].metrics[s.text(1)] = s.real(2);
  }
  {
    Statement s(ro.db, "SELECT cell_id, stage, coalesce(wall_s,0), coalesce(cpu_s,0), coalesce(peak_rss_bytes,0) "
                       "FROM stages", path);
    while (s.step())
      if (auto it = index.find(s.text(0)); it != index.end())
        out[it->second].stages[s.text(1)] = {s.real(2), s.real(3), s.integer(4)};
  }
  if (provenance) {
    // Columns added since the first release read as unknown in an older database.
    const bool recorded = has_column(ro.db, path, "provenance", "code_identities");
    Statement s(ro.db,
                recorded ? "SELECT cell_id, coalesce(cpu_model,''), coalesce(git_dirty,0), coalesce(git_commit,''), "
                           "coalesce(code_identities,''), coalesce(load1_start,-1), coalesce(load1_end,-1) FROM provenance"
                         : "SELECT cell_id, coalesce(cpu_model,''), coalesce(git_dirty,0), coalesce(git_commit,''), '', "
                           "-1, -1 FROM provenance",
                path);
    while (s.step())
      if (auto it = index.find(s.text(0)); it != index.end()) {
        CellResult& c = out[it->second];
        c.cpu_model = s.text(1);
        c.git_dirty = s.integer(2) != 0;
        c.git_commit = s.text(3);
        c.code = parse_code_identities(s.text(4));
        c.load1_start = s.real(5);
        c.load1_end = s.real(6);
      }
  }
  if (has_table(ro.db, path, "cell_artefacts")) {
    Statement s(ro.db, "SELECT cell_id, kind, sha256 FROM cell_artefacts", path);
    while (s.step())
      if (auto it = index.find(s.text(0)); it != index.end()) out[it->second].artefacts[s.text(1)] = s.text(2);
  }
  return out;
}

}  // namespace

ResultSet load_results(const std::vector<std::string>& database_paths) {
  ResultSet rs;
  rs.databases = database_paths;
  // Cell ids hash the configuration only, so two experiments may hold the same cell: keyed by both.
  std::map<std::pair<std::string, std::string>, CellResult> by_id;
  for (const auto& path : database_paths)
    for (auto& c : read_database(path)) {
      const auto key = std::make_pair(c.experiment, c.cell_id);
      auto it = by_id.find(key);
      if (it == by_id.end())
        by_id.emplace(key, std::move(c));
      else if (!it->second.done() && c.done())
        it->second = std::move(c);
    }
  for (auto& [id, c] : by_id) rs.cells.push_back(std::move(c));
  std::sort(rs.cells.begin(), rs.cells.end(), [](const CellResult& a, const CellResult& b) {
    return std::tie(a.experiment, a.dataset, a.method_name, a.method, a.ratio, a.seed, a.cell_id) <
           std::tie(b.experiment, b.dataset, b.method_name, b.method, b.ratio, b.seed, b.cell_id);
  });
  return rs;
}

}  // namespace dq
