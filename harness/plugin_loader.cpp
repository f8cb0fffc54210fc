#include "harness/plugin_loader.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "harness/yaml_params.h"
#include "methods/method.h"

namespace dq {

const std::vector<std::string>& load_method_plugin(const std::string& library, const std::string& where) {
  static std::map<std::string, std::vector<std::string>> loaded;  // absolute path -> its methods
  std::error_code ec;
  const std::filesystem::path path = std::filesystem::absolute(library, ec).lexically_normal();
  if (auto it = loaded.find(path.string()); it != loaded.end()) return it->second;
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error(fmt::format("{}: plugin library '{}' does not exist", where, path.string()));
  MethodRegistry& registry = MethodRegistry::instance();
  registry.begin_plugin(path.string());
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  const MethodRegistry::PluginLoad load = registry.end_plugin();
  if (!handle) {
    const char* why = dlerror();
    throw Error(fmt::format("{}: cannot load plugin '{}': {} (dq symbols resolve from the dqbench executable; "
                            "build the plugin against the installed headers of this dqbench)",
                            where, path.string(), why ? why : "unknown error"));
  }
  if (!load.conflicts.empty()) {
    std::string names;
    for (const auto& n : load.conflicts) names += (names.empty() ? "" : ", ") + n;
    throw Error(fmt::format("{}: plugin '{}' registers method names that are already taken: {}", where, path.string(),
                            names));
  }
  if (load.added.empty())
    throw Error(fmt::format("{}: plugin '{}' registers no method (a DQ_REGISTER_METHOD line is missing?)", where,
                            path.string()));
  return loaded[path.string()] = load.added;  // the handle stays open: its methods live in the registry
}

std::string load_plugin_method(const YAML::Node& entry, const std::string& file) {
  const std::string at = yaml_where(file, entry);
  const YAML::Node lib = entry["library"];
  if (!lib || !lib.IsScalar())
    throw Error(fmt::format("{} (key 'library'): a plugin entry needs 'library: path/libmine.so'", at));
  const auto& names = load_method_plugin(lib.Scalar(), yaml_where(file, lib) + " (key 'library')");
  const YAML::Node method = entry["method"];
  if (!method) {
    if (names.size() == 1) return names.front();
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw Error(fmt::format("{} (key 'method'): plugin '{}' registers several methods ({}); name one with 'method:'",
                            at, lib.Scalar(), list));
  }
  if (!method.IsScalar()) throw Error(fmt::format("{} (key 'method'): expected a method name", yaml_where(file, method)));
  if (std::find(names.begin(), names.end(), method.Scalar()) == names.end()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw Error(fmt::format("{} (key 'method'): plugin '{}' has no method '{}' (it registers: {})",
                            yaml_where(file, method), lib.Scalar(), method.Scalar(), list));
  }
  return method.Scalar();
}

}  // namespace dq
