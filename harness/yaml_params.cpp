#include "harness/yaml_params.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace dq {

std::string yaml_where(const std::string& file, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return file;
  return fmt::format("{}:{}:{}", file, mark.line + 1, mark.column + 1);
}

std::string yaml_map_to_json(const YAML::Node& map, const std::string& file, const std::string& where) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& entry : map) {
    if (!entry.second.IsScalar())
      throw Error(fmt::format("{}: {}: value of '{}' must be a single value", where, yaml_where(file, entry.second),
                              entry.first.as<std::string>()));
    out[entry.first.as<std::string>()] = entry.second.Scalar();
  }
  return out.dump();
}

void apply_yaml_params(const YAML::Node& map, Params& params, const std::string& file,
                       const std::set<std::string>& skip) {
  if (!map.IsMap()) throw Error(fmt::format("{}: expected a mapping of parameters", yaml_where(file, map)));
  for (const auto& entry : map) {
    const std::string key = entry.first.as<std::string>();
    if (skip.count(key)) continue;
    const std::string where = fmt::format("{} (key '{}')", yaml_where(file, entry.first), key);
    if (entry.second.IsMap() && params.has(key) && std::holds_alternative<std::string>(params.values().at(key))) {
      params.set_from_text(key, yaml_map_to_json(entry.second, file, where), where);
      continue;
    }
    if (!entry.second.IsScalar())
      throw Error(fmt::format("{}: value of '{}' must be a single value, not a list or mapping", where, key));
    params.set_from_text(key, entry.second.Scalar(), where);
  }
}

}  // namespace dq
