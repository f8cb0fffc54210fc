#pragma once
// The `datasets:` section of an experiment file, and dataset spec strings from the command line:
// the one parser both `dqbench run` (harness/experiment.h) and `dqbench datasets inspect` use.
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "core/params.h"

namespace dq {

// One dataset as an experiment names it: `cifar10: {kind: image_folder, path: ...}`.
struct DatasetDefinition {
  std::string name;   // the experiment's own name for it ("cifar10"); the kind for a spec string
  std::string kind;   // loader kind in the dataset registry (datasets/dataset.h), e.g. "image_folder"
  Params params;      // the loader's parameters, each checked against its spec
  std::string where;  // where it was defined, to prefix messages: "x.yaml:4:3 (dataset 'cifar10')" or "command line"
};

// The top-level `datasets:` mapping of `root` (a file loaded with load_yaml_file(file)), in file
// order. Throws dq::Error naming `file`, the line and the key when the section is missing, empty or
// not a mapping, when a dataset is not a mapping with a scalar `kind`, for an unknown kind (listing
// the known ones) and for an unknown or badly typed parameter.
std::vector<DatasetDefinition> parse_datasets_section(const YAML::Node& root, const std::string& file);

// A spec string "kind(k=v,...)" such as "image_folder(path=data/cifar10-jpg,image_size=32)"; the
// name is the kind. Throws dq::Error prefixed with `where` as parse_datasets_section does.
DatasetDefinition parse_dataset_spec(const std::string& text, const std::string& where);

}  // namespace dq
