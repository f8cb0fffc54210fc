#include "harness/yaml_params.h"

#include <fmt/format.h>

#include <algorithm>

#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/text_escape.h"

namespace dq {

std::string yaml_where(const std::string& file, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return file;
  return fmt::format("{}:{}:{}", file, mark.line + 1, mark.column + 1);
}

namespace {

// Walks every mapping and sequence once (an alias repeats a node: `visited` keeps a node reached
// through several aliases, or through itself, from being walked again).
void check_unique_keys(const YAML::Node& node, const std::string& file, std::vector<YAML::Node>& visited) {
  if (!node.IsMap() && !node.IsSequence()) return;
  for (const auto& seen : visited)
    if (seen.is(node)) return;
  visited.push_back(node);
  if (node.IsSequence()) {
    for (const auto& item : node) check_unique_keys(item, file, visited);
    return;
  }
  std::map<std::string, YAML::Mark> first;
  for (const auto& entry : node) {
    // Every reader takes keys as names: a list or mapping as a key ("[a]: 1") is refused here, once.
    if (!entry.first.IsScalar() && !entry.first.IsNull())
      throw Error(fmt::format("{}: a key must be a plain name, not a list or a mapping", yaml_where(file, entry.first)));
    if (entry.first.IsScalar()) {
      const std::string key = entry.first.Scalar();
      const auto [it, inserted] = first.emplace(key, entry.first.Mark());
      if (!inserted)
        throw Error(fmt::format("{} (key '{}'): duplicate key (first at line {})", yaml_where(file, entry.first), key,
                                it->second.line + 1));
    }
    check_unique_keys(entry.first, file, visited);
    check_unique_keys(entry.second, file, visited);
  }
}

}  // namespace

Error yaml_error(const std::string& file, const YAML::Exception& e) {
  if (e.mark.is_null()) return Error(fmt::format("{}: {}", file, e.msg));
  return Error(fmt::format("{}:{}:{}: {}", file, e.mark.line + 1, e.mark.column + 1, e.msg));
}

YAML::Node parse_yaml(const std::string& text, const std::string& file) {
  // Its strings become JSON (cell ids), which must be UTF-8: a Latin-1 path used to end in an uncaught
  // JSON exception (found by fuzzing: tests/fuzz/inputs/experiment_yaml/regressions/).
  if (const size_t bad = invalid_utf8_at(text); bad != std::string::npos) {
    const size_t line_start = text.rfind('\n', bad == 0 ? 0 : bad - 1);
    const size_t line = static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n')) + 1;
    const size_t column = bad - (line_start == std::string::npos || bad == 0 ? 0 : line_start + 1) + 1;
    throw Error(fmt::format("{}:{}:{}: not UTF-8 text (byte 0x{:02x}); save the file as UTF-8", file, line, column,
                            static_cast<unsigned char>(text[bad])));
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(fmt::format("{}:{}:{}: YAML syntax error: {}", file, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  std::vector<YAML::Node> visited;
  check_unique_keys(root, file, visited);
  return root;
}

YAML::Node load_yaml_file(const std::string& file, std::string* text) {
  std::ifstream in(file);
  if (!in) throw Error(fmt::format("{}: cannot open the YAML file", file));
  std::stringstream buffer;
  buffer << in.rdbuf();
  YAML::Node root = parse_yaml(buffer.str(), file);
  if (text) *text = buffer.str();
  return root;
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
    if (entry.second.IsNull())  // `mae_epochs:` with nothing after it
      throw Error(fmt::format("{}: '{}' has no value (write one, or leave the key out for its default)", where, key));
    if (!entry.second.IsScalar())
      throw Error(fmt::format("{}: value of '{}' must be a single value, not a list or mapping", where, key));
    params.set_from_text(key, entry.second.Scalar(), where);
  }
}

}  // namespace dq
