#pragma once
// `dqbench datasets inspect <spec or experiment.yaml>` and `dqbench datasets list`.
#include <string>
#include <vector>

#include "harness/dataset_definitions.h"

namespace CLI {
class App;
}

namespace dq {

// Adds the `datasets` sub-command (with `inspect` and `list`) to the command line.
void add_datasets_command(CLI::App& app);

// From a spec string "kind(k=v,...)" (name = kind), or from the top-level `datasets:` map of an
// experiment YAML file (chosen when the argument ends in .yaml/.yml or names an existing file),
// through the parser `dqbench run` uses (harness/dataset_definitions.h). Unknown kinds and
// parameters throw dq::Error naming the file, line and key.
std::vector<DatasetDefinition> parse_dataset_definitions(const std::string& spec_or_yaml);

// Loads each dataset through the decode cache (empty cache_dir = none) and describes it: sizes,
// per-class counts per split, cache status, load time and load report.
std::string inspect_datasets(const std::string& spec_or_yaml, const std::string& cache_dir);

}  // namespace dq
