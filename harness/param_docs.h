#pragma once
// The one printer of plugin parameters: `dqbench methods`, `dqbench datasets list` and `dqbench
// models --format md` print every method, dataset kind and training recipe with its parameters (type, default, allowed values, meaning) from the
// plugin's ParamSpec list, as text (term) or as Markdown (md). The parameter tables of
// methods/docs/*.md and datasets/README.md are this Markdown, pasted between markers by
// scripts/doc_tables.py (the ctest docs_param_tables fails when they differ).
#include <string>
#include <vector>

#include "core/params.h"
#include "core/text_escape.h"

namespace dq {

// What a plugin's listing shows.
struct PluginDoc {
  std::string name;         // method name or dataset kind
  std::string description;
  const std::vector<ParamSpec>* params = nullptr;
  std::string library{};    // the shared library that registered it; empty: built in
};

// Terminal: "name: description" then one line per parameter. Markdown: a "### `name`" heading, the
// description, and a table | param | type | default | allowed | meaning |.
std::string describe_plugins(const std::vector<PluginDoc>& plugins, TableFormat format);

// Every registered method / dataset kind.
std::string describe_methods(TableFormat format);
std::string describe_dataset_kinds(TableFormat format);
// `dqbench models --format md`: the `train:` keys, the extractor's own keys, the `patches:` keys, and
// each recipe preset (heading, description, a | key | value | table), for the generated blocks of
// models/README.md and experiments/README.md.
std::string describe_recipes();

}  // namespace dq
