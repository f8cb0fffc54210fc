#pragma once
// The one bridge between YAML files and the program: parsing (syntax errors and duplicate keys are
// refused with FILE:LINE:COL) and typed Params (every key must be declared by the plugin, every value
// must parse as its type); errors name the file, line and key.
#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

#include "core/error.h"
#include "core/params.h"

namespace dq {

// "file:line:col" of a YAML node (1-based), or just the file if the node has no mark.
std::string yaml_where(const std::string& file, const YAML::Node& node);

// Parses `text` (the contents of `file`, named in errors). Throws dq::Error on a syntax error
// ("FILE:LINE:COL: YAML syntax error: ...") and on a key that appears twice in one mapping, at any
// depth ("FILE:LINE:COL (key 'ratio'): duplicate key (first at line 6)", at the second occurrence):
// yaml-cpp 0.7 keeps both entries, a lookup sees only one of them and a loop sees both.
YAML::Node parse_yaml(const std::string& text, const std::string& file);

// Reads `file` and parse_yaml()s it; its contents go to `text` when not null.
YAML::Node load_yaml_file(const std::string& file, std::string* text = nullptr);

// Runs `read` (code that reads nodes of `file`), turning any yaml-cpp exception that escapes it (a
// conversion no check foresaw, such as a list where a name was expected) into a dq::Error with
// FILE:LINE:COL, instead of an exception nothing catches.
Error yaml_error(const std::string& file, const YAML::Exception& e);
template <typename Read>
auto with_yaml_errors(const std::string& file, Read&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const YAML::Exception& e) {
    throw yaml_error(file, e);
  }
}

// A mapping of scalars as canonical JSON text (sorted keys, every value a string): {"alpha":"0.5"}.
std::string yaml_map_to_json(const YAML::Node& map, const std::string& file, const std::string& where);

// Applies each scalar entry of `map` to `params`, skipping keys in `skip` (e.g. "kind"). A mapping
// given to a string parameter (an external method's `params:`) is stored as yaml_map_to_json.
void apply_yaml_params(const YAML::Node& map, Params& params, const std::string& file,
                       const std::set<std::string>& skip = {});

}  // namespace dq
