#include "report/results.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <tuple>

#include "core/error.h"
#include "harness/cell_artefacts.h"
#include "harness/store.h"
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

std::map<std::string, std::string> CellResult::configuration() const {
  std::map<std::string, std::string> out = method_params;
  out["method"] = method_name;
  out["dataset.kind"] = dataset_kind;
  out["memory_budget"] = fmt::format("{}", memory_budget_bytes);
  const std::pair<const char*, const std::map<std::string, std::string>*> sections[] = {
      {"dataset.", &dataset_params}, {"extractor.", &extractor}, {"train.", &train}, {"patches.", &patches}};
  for (const auto& [prefix, params] : sections)
    for (const auto& [key, value] : *params) out[prefix + key] = value;
  return out;
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
  if (j.contains("patches") && j["patches"].is_object()) c.patches = flat_params(j["patches"]);
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

}  // namespace

std::vector<CellResult> read_results(Store& store) {
  const std::string& path = store.path();
  for (const char* t : {"cells", "stages", "metrics"})
    if (!store.has_table(t)) throw Error(fmt::format("{}: not a dqbench results database (no '{}' table)", path, t));
  const bool provenance = store.has_table("provenance");
  std::vector<CellResult> out;
  for (const CellRow& row : store.cells()) {
    CellResult c;
    c.db = path;
    c.cell_id = row.cell_id;
    c.experiment = row.experiment;
    c.dataset = row.dataset;
    c.method = row.method;
    c.method_name = row.method_name;
    c.ratio = row.ratio;
    c.seed = row.seed;
    read_config(c, store.config(row.cell_id).value_or(""), path);
    fill_new_method_defaults(c);
    c.status = status_name(row.status);
    c.error = row.error;
    c.metrics = store.metrics(row.cell_id);
    for (const StageRecord& st : store.stages(row.cell_id)) c.stages[st.name] = {st.wall_s, st.cpu_s, st.peak_rss_bytes};
    if (provenance)
      if (const auto p = store.provenance(row.cell_id)) {
        c.cpu_model = p->cpu_model;
        c.git_dirty = p->git_dirty;
        c.git_commit = p->git_commit;
        c.code = parse_code_identities(p->code_identities);
        c.load1_start = p->load1_start;
        c.load1_end = p->load1_end;
      }
    for (const CellArtefact& a : store.cell_artefacts(row.cell_id)) c.artefacts[a.kind] = a.sha256;
    // A cell that another experiment's matrix reuses belongs to that experiment's tables too.
    for (const std::string& other : store.other_experiments(row.cell_id, row.experiment)) {
      CellResult shared = c;
      shared.experiment = other;
      out.push_back(std::move(shared));
    }
    out.push_back(std::move(c));
  }
  return out;
}

namespace {
std::vector<CellResult> read_results_file(const std::string& path) {
  Store store(path, OpenMode::ReadOnly);
  return read_results(store);
}
}  // namespace

ResultSet load_results(const std::vector<std::string>& database_paths) {
  ResultSet rs;
  rs.databases = database_paths;
  // Cell ids hash the configuration only, so two experiments may hold the same cell: keyed by both.
  std::map<std::pair<std::string, std::string>, CellResult> by_id;
  for (const auto& path : database_paths)
    for (auto& c : read_results_file(path)) {
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
