#pragma once
// Bridges YAML maps and typed Params: every key must be declared by the plugin, every value must
// parse as its type; errors name the file, line and key.
#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

#include "core/params.h"

namespace dq {

// "file:line:col" of a YAML node (1-based), or just the file if the node has no mark.
std::string yaml_where(const std::string& file, const YAML::Node& node);

// A mapping of scalars as canonical JSON text (sorted keys, every value a string): {"alpha":"0.5"}.
std::string yaml_map_to_json(const YAML::Node& map, const std::string& file, const std::string& where);

// Applies each scalar entry of `map` to `params`, skipping keys in `skip` (e.g. "kind"). A mapping
// given to a string parameter (an external method's `params:`) is stored as yaml_map_to_json.
void apply_yaml_params(const YAML::Node& map, Params& params, const std::string& file,
                       const std::set<std::string>& skip = {});

}  // namespace dq
