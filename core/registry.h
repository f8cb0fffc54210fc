#pragma once
// One registry for every kind of plugin the program discovers at start-up (selection methods,
// dataset loaders): entries keyed by name, registered by a static object in the plugin's .cpp,
// listed in name order, found by name with an error that lists the known names.
//
// Each Info type has one instance, defined (as an explicit specialisation of instance()) in the
// .cpp of the header that names the registry (methods/method.cpp, datasets/dataset.cpp), so that a
// shared library loaded at run time (harness/plugin_loader.cpp) registers into the executable's
// instance, not a copy of its own.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace dq {

template <class Info>
class Registry {
 public:
  // `noun` names an entry in messages ("method", "dataset kind"); `key` is the member that names it;
  // `library`, when not null, is the member that records which shared library registered it.
  Registry(std::string noun, std::string Info::*key, std::string Info::*library = nullptr)
      : noun_(std::move(noun)), key_(key), library_(library) {}

  static Registry& instance();  // specialised where the registry is named

  // A name registered twice by the program is a broken invariant; by a plugin, a conflict it reports.
  void add(Info info) {
    const std::string& name = info.*key_;
    if (!loading_library_.empty()) {
      if (entries_.count(name)) {
        loading_.conflicts.push_back(name);
        return;
      }
      if (library_) info.*library_ = loading_library_;
      loading_.added.push_back(name);
    }
    DQ_ASSERT(!entries_.count(name), noun_ + " registered twice: " + name);
    std::string key = name;
    entries_.emplace(std::move(key), std::move(info));
  }

  // Throws dq::Error at `where`, listing the known names.
  const Info& find(const std::string& name, const std::string& where) const {
    const auto it = entries_.find(name);
    if (it != entries_.end()) return it->second;
    std::string known;
    for (const auto& [k, _] : entries_) known += (known.empty() ? "" : ", ") + k;
    throw Error(where + ": unknown " + noun_ + " '" + name + "' (known: " + known + ")");
  }

  // Null when nothing has that name.
  const Info* try_find(const std::string& name) const {
    const auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }

  std::vector<const Info*> list() const {  // in name order
    std::vector<const Info*> out;
    for (const auto& [_, info] : entries_) out.push_back(&info);
    return out;
  }

  // While a plugin library loads, what it registers is tagged with its path, and a name already
  // taken is set aside as a conflict instead of aborting.
  struct PluginLoad {
    std::vector<std::string> added, conflicts;
  };
  void begin_plugin(const std::string& library) {
    DQ_ASSERT(!library.empty() && loading_library_.empty(), "plugin loads do not nest");
    loading_library_ = library;
    loading_ = {};
  }
  PluginLoad end_plugin() {
    loading_library_.clear();
    return std::exchange(loading_, {});
  }

 private:
  std::string noun_;
  std::string Info::*key_;
  std::string Info::*library_;
  std::map<std::string, Info> entries_;
  std::string loading_library_;
  PluginLoad loading_;
};

namespace detail {
// The static object behind DQ_REGISTER_METHOD / DQ_REGISTER_DATASET.
template <class Info>
struct Registrar {
  explicit Registrar(Info (*make)()) { Registry<Info>::instance().add(make()); }
};
}  // namespace detail

}  // namespace dq
