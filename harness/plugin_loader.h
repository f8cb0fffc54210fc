#pragma once
// Method plugins: shared libraries that register selection methods with DQ_REGISTER_METHOD, loaded
// by an experiment's `{name: plugin, library: path/libmine.so, method: mine, ...}` entry.
//
// A plugin is built against the installed headers (`cmake --install`, find_package(dqbench)) and
// links nothing of dqbench: its references to dq symbols (the registry, budget_count, Rng, ...)
// resolve against the dqbench executable, which exports them (ENABLE_EXPORTS, i.e. -rdynamic).
// It must be built with the same compiler and C++ standard library as dqbench.
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace dq {

// Loads `library` once per process (a path relative to the current directory, or absolute) and
// returns the names of the methods it registered. Throws dq::Error naming `where` if it cannot be
// loaded, registers nothing, or registers a name that is already taken.
const std::vector<std::string>& load_method_plugin(const std::string& library, const std::string& where);

// The method an experiment's plugin entry names: loads `library:` and returns `method:` (optional when
// the library registers exactly one method). Errors name the file, line and key.
std::string load_plugin_method(const YAML::Node& entry, const std::string& file);

}  // namespace dq
